/* mqgate-router — the internal bus process; started by the supervisor, never by hand. */
#include "router.h"

int main(int argc, char **argv)
{
    return router_main(argc, argv);
}
