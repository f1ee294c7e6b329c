/* threads.c — the thread count and wait policy bone gives OpenMP (see threads.h). */
#include "core/threads.h"
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bone_threads_affinity(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set)) return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* the cgroup path of this process for a hierarchy: v2's "0::/path", or v1's line whose
 * controller list contains "cpu" */
static int cgroup_path(int v2, char *out, size_t cap) {
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return -1;
    char line[4096];
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        const char *ctl = c1 + 1;
        int match = 0;
        if (v2) match = !strcmp(line, "0") && !*ctl;
        else {
            char tmp[256];
            snprintf(tmp, sizeof tmp, ",%s,", ctl);
            match = strstr(tmp, ",cpu,") != NULL;
        }
        if (match && strlen(c2 + 1) < cap) {
            strcpy(out, c2 + 1);
            found = 0;
        }
    }
    fclose(f);
    return found;
}

/* quota/period in CPUs from one directory; 0 when unlimited or unreadable */
static double quota_at(const char *dir, int v2) {
    char p[4800];
    double q = 0, per = 0;
    if (v2) {
        snprintf(p, sizeof p, "%s/cpu.max", dir);
        FILE *f = fopen(p, "r");
        if (!f) return 0;
        char qs[64] = "";
        if (fscanf(f, "%63s %lf", qs, &per) == 2 && strcmp(qs, "max")) q = atof(qs);
        fclose(f);
    } else {
        snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", dir);
        FILE *f = fopen(p, "r");
        if (!f) return 0;
        if (fscanf(f, "%lf", &q) != 1) q = 0;
        fclose(f);
        snprintf(p, sizeof p, "%s/cpu.cfs_period_us", dir);
        f = fopen(p, "r");
        if (!f) return 0;
        if (fscanf(f, "%lf", &per) != 1) per = 0;
        fclose(f);
    }
    return q > 0 && per > 0 ? q / per : 0;
}

/* The smallest quota on the way from this process's cgroup up to the root of the hierarchy
 * (a limit on a parent applies to its children). BONE_CGROUP_ROOT replaces /sys/fs/cgroup
 * (the tests point it at a directory holding a cpu.max of their own). */
double bone_threads_cgroup_quota(void) {
    const char *root = getenv("BONE_CGROUP_ROOT");
    double best = 0;
    for (int v2 = 1; v2 >= 0; v2--) {
        char rel[4096] = "/";
        if (!root && cgroup_path(v2, rel, sizeof rel)) continue;
        if (root) rel[0] = 0; /* a fake root: look at it alone */
        char base[512];
        snprintf(base, sizeof base, "%s%s", root ? root : "/sys/fs/cgroup", root || v2 ? "" : "/cpu");
        for (;;) {
            char dir[4700];
            snprintf(dir, sizeof dir, "%s%s", base, rel);
            double q = quota_at(dir, v2);
            if (q > 0 && (best == 0 || q < best)) best = q;
            char *slash = strrchr(rel, '/');
            if (!slash || (slash == rel && !rel[1])) break;
            if (slash == rel) rel[1] = 0;
            else *slash = 0;
        }
        if (root) break;
    }
    return best;
}

/* ranks of an MPI job on this node, from the launcher's environment (1 when not launched) */
int bone_threads_local_ranks(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1) return atoi(v);
    }
    return 1;
}

int bone_threads_online(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int bone_threads_default(void) {
    int n = bone_threads_affinity();
    double q = bone_threads_cgroup_quota();
    if (q > 0 && ceil(q) < n) n = (int)ceil(q);
    /* L ranks of a data-parallel job on this node share its CPUs: at most CPUs/L each (a rank
     * bound to one core already sees one CPU in its mask) */
    int L = bone_threads_local_ranks();
    if (L > 1) {
        int share = (q > 0 && ceil(q) < bone_threads_online() ? (int)ceil(q) : bone_threads_online()) / L;
        if (share < n) n = share;
    }
    return n > 0 ? n : 1;
}

int bone_threads_env(void) {
    char set[128] = "";
    if (!getenv("OMP_NUM_THREADS")) {
        char v[32];
        snprintf(v, sizeof v, "%d", bone_threads_default());
        setenv("OMP_NUM_THREADS", v, 1);
        strcat(set, "OMP_NUM_THREADS ");
    }
    /* GOMP_SPINCOUNT given alone is a wait policy too: leave both to the user */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        strcat(set, "OMP_WAIT_POLICY ");
    }
    if (!*set) return 0;
    setenv("BONE_THREADS_SET", set, 1);
    return 1;
}

/* set by bone in this process (recorded before the re-exec), not inherited from a user */
static int set_by_bone(const char *var) {
    const char *s = getenv("BONE_THREADS_SET");
    if (!s) return 0;
    size_t n = strlen(var);
    for (const char *p = strstr(s, var); p; p = strstr(p + 1, var))
        if ((p == s || p[-1] == ' ') && (p[n] == ' ' || !p[n])) return 1;
    return 0;
}

void bone_threads_describe(char *buf, size_t cap) {
    int aff = bone_threads_affinity();
    double q = bone_threads_cgroup_quota();
    char quota[64];
    if (q > 0) snprintf(quota, sizeof quota, "cgroup quota %.2g", q);
    else snprintf(quota, sizeof quota, "no cgroup quota");
    const char *wp = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    char wait[160];
    if (wp && set_by_bone("OMP_WAIT_POLICY")) snprintf(wait, sizeof wait, "wait policy %s (set by bone)", wp);
    else if (wp) snprintf(wait, sizeof wait, "wait policy %s (OMP_WAIT_POLICY from the user)", wp);
    else if (spin) snprintf(wait, sizeof wait, "GOMP_SPINCOUNT=%s from the user", spin);
    else snprintf(wait, sizeof wait, "wait policy: OpenMP default (spins)");
    snprintf(buf, cap, "%d thread%s (affinity %d CPUs, %s; %s), %s", omp_get_max_threads(),
             omp_get_max_threads() == 1 ? "" : "s", aff, quota, set_by_bone("OMP_NUM_THREADS") ? "set by bone"
             : getenv("OMP_NUM_THREADS")    ? "OMP_NUM_THREADS from the user"
                                            : "OpenMP default",
             wait);
}
