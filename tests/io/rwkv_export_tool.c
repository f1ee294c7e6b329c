/* rwkv_export_tool.c — runs cmd_export_rwkv (src/cli/cmd_export_rwkv.c) as `bone export` will once
 * the export dispatcher calls it: argv[1] is the form (rwkv-pth | rwkv-peft), the rest its options.
 * Lets test_rwkv_pth.py test the real command code before the dispatcher is wired. */
#include "cli/cmds.h"
#include "cli/args.h"

int main(int argc, char **argv) {
    if (argc < 2) return bone_usage_error("export", "missing the form (rwkv-pth or rwkv-peft)");
    return cmd_export_rwkv(argc - 1, argv + 1, argv[1]);
}
