/* mqgate-connector — one external broker connection; started by the supervisor. */
#include "connector.h"

int main(int argc, char **argv)
{
    return connector_main(argc, argv);
}
