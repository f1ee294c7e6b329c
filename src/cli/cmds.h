/* cmds.h — every `bone` subcommand's entry point: int cmd_X(int argc, char **argv),
 * argv[0] being the command name. Returns the process exit status (0, 1 runtime, 2 usage). */
#ifndef BONE_CLI_CMDS_H
#define BONE_CLI_CMDS_H
int cmd_init(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_count(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_unmerge(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plot(int argc, char **argv);
/* cmd_export_rwkv.c: `bone convert rwkv-pth` (argv[0] = "rwkv-pth") and `bone export rwkv-pth|rwkv-peft`
 * (argv[0] = the subcommand word, what = the same word) */
int cmd_convert_rwkv_pth(int argc, char **argv);
int cmd_export_rwkv(int argc, char **argv, const char *what);
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);
#endif
