/* connector — owns one external broker connection: subscribes what the routes need, forwards
 * what arrives to the router, publishes what the router sends, buffers across reconnects. */
#ifndef CONNECTOR_H
#define CONNECTOR_H

int connector_main(int argc, char **argv);

#endif
