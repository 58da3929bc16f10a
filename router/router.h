/* router — the internal bus: receives every message from the connectors, matches its topic
 * against all routes in per-namespace tries and delivers exactly one copy to each target. */
#ifndef ROUTER_H
#define ROUTER_H

int router_main(int argc, char **argv);

#endif
