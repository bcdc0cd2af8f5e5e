/* aw — command-line client for ActingWeb actors. (Commands arrive with the SDK issue.) */
#include <stdio.h>
#include <string.h>

#include <actingweb/actingweb.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: aw <command> [options]\n\n"
               "Command-line client for ActingWeb actors (libactingweb %s).\n\n"
               "Commands are being built; see docs/aw.1 once they land.\n"
               "  --help       this text\n  --version    product version\n",
            aw_version());
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("aw %s\n", aw_version());
        return 0;
    }
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
