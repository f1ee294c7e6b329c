/* optfile.h — options files for every command: `--options FILE` (and `--config FILE`
 * where a command does not use --config for a model config) reads a JSON object
 * {"lr": 1e-4, "no-shuffle": true} or TOML `key = value` lines, and expands them into
 * ordinary "--key value" arguments placed before the command line's own, so that flags
 * given on the command line override the file (the parser keeps the last value). */
#ifndef BONE_CLI_OPTFILE_H
#define BONE_CLI_OPTFILE_H

typedef struct bone_argv {
    int argc;
    char **argv;   /* owned, NULL-terminated */
} bone_argv;

/* Builds the expanded argument list for argv[0..argc) (argv[0] = command name). Returns 0,
 * or BONE_EXIT_USAGE after printing a message naming the file and line. */
int bone_optfile_expand(const char *cmd, int argc, char **argv, int config_is_options, bone_argv *out);
void bone_argv_free(bone_argv *a);

#endif
