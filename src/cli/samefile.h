/* samefile.h — refusing an output path that is one of the command's inputs (hostile-use B13:
 * `merge --out` = `--model` replaced the base weights, `plot --out` = a run's metrics.jsonl
 * replaced the metrics, `eval gsm8k --out` = `--data` replaced the data set). */
#ifndef BONE_CLI_SAMEFILE_H
#define BONE_CLI_SAMEFILE_H

/* 1 when a and b both exist and are the same file or directory (same device and inode: also
 * through symlinks, hard links, "./x" vs "x"); 0 otherwise (a path that does not exist yet
 * cannot be an input). */
int bone_same_file(const char *a, const char *b);

#endif
