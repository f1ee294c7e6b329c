/* optfile.h — options files for every command: `--options FILE` (and `--config FILE`
 * where a command does not use --config for a model config) reads a JSON object
 * {"lr": 1e-4, "no-shuffle": true} or TOML `key = value` lines, and expands them into
 * ordinary "--key value" arguments placed before the command line's own, so that flags
 * given on the command line override the file (the parser keeps the last value). */
#ifndef BONE_CLI_OPTFILE_H
#define BONE_CLI_OPTFILE_H

/* where an argument read from an options file came from, so that a later usage error
 * (an unknown option, a bad value: found by the command's own parser) can name the file and
 * line: "o.toml:3: unknown option --modle" */
typedef struct bone_arg_origin {
    char *where;   /* "o.json" or "o.toml:3"; NULL for the command line's own arguments */
    char *key;     /* the key as the file spells it ("no_shuffle"), for the option name */
    int paired;    /* the file gave this key a string/number value (the next argument) */
} bone_arg_origin;

typedef struct bone_argv {
    int argc;
    char **argv;   /* owned, NULL-terminated */
    bone_arg_origin *origin; /* owned, one per argv entry (all NULL fields for the command line's) */
} bone_argv;

/* Builds the expanded argument list for argv[0..argc) (argv[0] = command name). Returns 0,
 * or BONE_EXIT_USAGE after printing a message naming the file and line. A key given twice
 * in one file is an error; a UTF-8 byte-order mark at the start of a file is skipped. */
int bone_optfile_expand(const char *cmd, int argc, char **argv, int config_is_options, bone_argv *out);
void bone_argv_free(bone_argv *a);

#endif
