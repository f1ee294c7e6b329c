/* args.h — GNU-style long options shared by every command.
 *
 * A command describes its options in a table of bone_opt; bone_args_parse fills the
 * targets, accepts "--name value" and "--name=value", collects positionals, and reports
 * unknown options or bad values as usage errors (exit status 2) with a one-line hint. */
#ifndef BONE_CLI_ARGS_H
#define BONE_CLI_ARGS_H
#include <stdint.h>

typedef enum { OPT_FLAG, OPT_INT, OPT_DOUBLE, OPT_STR } bone_opt_type;

typedef struct bone_opt {
    const char *name; /* without the leading "--" */
    bone_opt_type type;
    void *target;     /* int* for OPT_FLAG, int64_t* for OPT_INT, double*, const char** */
    const char *help;
    int seen;         /* set by the parser */
} bone_opt;

#define BONE_EXIT_OK 0
#define BONE_EXIT_RUNTIME 1
#define BONE_EXIT_USAGE 2

/* Parses argv[1..argc-1] (argv[0] is the command name). Positionals are stored in
 * pos[0..*npos) (up to maxpos). Returns 0, or BONE_EXIT_USAGE after printing a hint,
 * or -1 when --help was given (help printed; caller exits 0). */
int bone_args_parse(const char *cmd, const char *usage, bone_opt *opts, int argc, char **argv,
                    const char **pos, int maxpos, int *npos);
void bone_args_help(const char *cmd, const char *usage, const bone_opt *opts);
/* 1 when the option NAME of the table was given (on the command line or in an options file):
 * how a command tells "left at its default" from "given a value that must be checked". */
int bone_opt_seen(const bone_opt *opts, const char *name);
/* Where the arguments of options files came from (optfile.h): set once by main() before the
 * command runs, read by bone_args_parse to name the file and line in its errors; the table
 * stays owned by the caller and must outlive the command. NULL: none. */
struct bone_argv;
void bone_args_set_origins(const struct bone_argv *a);
/* Prints "bone CMD: msg" and a hint to stderr; returns BONE_EXIT_USAGE. */
int bone_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
