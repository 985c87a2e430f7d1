/*
 * kubesim-init: the last step of starting a container, and the whole of entering one for
 * `pods/exec`, as runc's init does them: join the container's cgroups, switch to its root
 * (pivot_root) or enter its namespaces (setns), drop to its uid/gid and capability bounding
 * set, look the command up in the container's own PATH and exec it.
 *
 * It is a static binary so that it runs after pivot_root in any image, even one with no libc
 * (scratch, busybox), and so that nothing of the host's userland has to be left in the
 * container for it. The environment it is started with is the container's environment.
 *
 * Errors read as runc's do (opencontainers/runc, libcontainer/standard_init_linux.go and
 * setns_init_linux.go: `exec: "NAME": executable file not found in $PATH` from Go's
 * exec.LookPath, `exec /PATH: no such file or directory` from the execve). kubesim's Python
 * side wraps them in containerd's and the kubelet's words.
 *
 * usage: kubesim-init [--cgroup FILE]... [--root DIR | --enter PID] [--wd DIR]
 *                     --uid N --gid N [--caps N,N,...|all|none] [--no-new-privs]
 *                     [--ready HOSTPID] [--error-fd FD] -- COMMAND [ARG]...
 *        kubesim-init --spawn own|host|PID -- COMMAND [ARG]...
 *
 * --spawn makes the container's namespaces (mount, UTS, IPC, and a PID namespace of its own,
 * the host's, or PID's) and runs COMMAND (kubesim's setup) as their first process, waiting
 * for it: its exit code is the container's, 128+N when signal N killed it, as containerd
 * reports it (util-linux's `unshare --fork` reports 1 for a killed child).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#define CAP_VERSION_3 0x20080522
#define CAP_WORDS 2
#define CAP_COUNT 64
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct cap_header {
    uint32_t version;
    int pid;
};
struct cap_data {
    uint32_t effective, permitted, inheritable;
};

struct options {
    const char *cgroups[8];
    int n_cgroups;
    const char *root;
    long enter_pid;
    const char *wd;
    long uid, gid;
    int all_caps;
    int keep[CAP_COUNT];
    int no_new_privs;
    const char *ready;
    int error_fd;
    const char *spawn;
    char **argv;
};

static int error_fd = -1;

/* An errno as Go's syscall.Errno prints it (runc is Go): strerror, first letter lowercase. */
static const char *go_error(int err) {
    static char text[256];
    snprintf(text, sizeof text, "%s", strerror(err));
    if (text[0] >= 'A' && text[0] <= 'Z') {
        text[0] = (char)(text[0] - 'A' + 'a');
    }
    return text;
}

/* The one way this program reports a failure: a line on the error channel, then exit. */
static void fail(int code, const char *fmt, ...) {
    char text[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    if (error_fd >= 0) {
        dprintf(error_fd, "%s\n", text);
    } else {
        /* No error channel: the kubelet reads this in place of the ready line. */
        dprintf(STDOUT_FILENO, "kubesim-failed %s\n", text);
    }
    _exit(code);
}

static long number(const char *text, const char *what) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno || end == text || *end) {
        fail(2, "kubesim-init: %s must be a number, not %s", what, text);
    }
    return value;
}

static void parse(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof *o);
    o->uid = o->gid = -1;
    o->error_fd = -1;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--no-new-privs") == 0) {
            o->no_new_privs = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fail(2, "kubesim-init: %s needs a value", flag);
        }
        const char *value = argv[++i];
        if (strcmp(flag, "--cgroup") == 0 && o->n_cgroups < 8) {
            o->cgroups[o->n_cgroups++] = value;
        } else if (strcmp(flag, "--root") == 0) {
            o->root = value;
        } else if (strcmp(flag, "--enter") == 0) {
            o->enter_pid = number(value, "--enter");
        } else if (strcmp(flag, "--wd") == 0) {
            o->wd = value;
        } else if (strcmp(flag, "--uid") == 0) {
            o->uid = number(value, "--uid");
        } else if (strcmp(flag, "--gid") == 0) {
            o->gid = number(value, "--gid");
        } else if (strcmp(flag, "--ready") == 0) {
            o->ready = value;
        } else if (strcmp(flag, "--spawn") == 0) {
            o->spawn = value;
        } else if (strcmp(flag, "--error-fd") == 0) {
            o->error_fd = (int)number(value, "--error-fd");
        } else if (strcmp(flag, "--caps") == 0) {
            if (strcmp(value, "all") == 0 || strcmp(value, "none") == 0) {
                o->all_caps = strcmp(value, "all") == 0;
                continue;
            }
            char *copy = strdup(value);
            for (char *cap = strtok(copy, ","); cap; cap = strtok(NULL, ",")) {
                long n = number(cap, "a capability");
                if (n >= 0 && n < CAP_COUNT) {
                    o->keep[n] = 1;
                }
            }
            free(copy);
        } else {
            fail(2, "kubesim-init: unknown option %s", flag);
        }
    }
    if (i + 1 >= argc || (!o->spawn && (o->uid < 0 || o->gid < 0))) {
        fail(2, "kubesim-init: --uid, --gid and a command after -- are required");
    }
    o->argv = argv + i + 1;
}

static void join_cgroups(const struct options *o) {
    for (int i = 0; i < o->n_cgroups; i++) {
        int fd = open(o->cgroups[i], O_WRONLY | O_CLOEXEC);
        /* Best effort, as kubesim's cgroups are: without one the container still runs. */
        if (fd >= 0) {
            dprintf(fd, "%d\n", getpid());
            close(fd);
        }
    }
}

static void enter_namespaces(long pid) {
    static const char *kinds[] = {"ipc", "uts", "pid", "mnt"};
    int fds[4];
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/ns/%s", pid, kinds[i]);
        fds[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            fail(126, "container process %ld is gone: %s", pid, go_error(errno));
        }
    }
    for (int i = 0; i < 4; i++) {
        if (setns(fds[i], 0) != 0) {
            fail(126, "setns %s: %s", kinds[i], go_error(errno));
        }
        close(fds[i]);
    }
}

static void switch_root(const char *root) {
    /* pivot_root(".", ".") then detaching the old root, as runc does: no put_old folder. */
    if (chdir(root) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) {
        fail(126, "pivot_root %s: %s", root, go_error(errno));
    }
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
        fail(126, "unmount the old root: %s", go_error(errno));
    }
}

static void change_dir(const char *wd) {
    if (!wd) {
        return;
    }
    /* runc creates a missing working directory inside the rootfs before it starts. */
    char path[4096];
    snprintf(path, sizeof path, "%s", wd);
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    mkdir(path, 0755);
    if (chdir(wd) != 0 && chdir("/") != 0) {
        fail(126, "chdir to cwd (\"%s\") set in config.json failed: %s", wd, go_error(errno));
    }
}

static void drop_privileges(const struct options *o) {
    if (!o->all_caps) {
        for (int cap = 0; cap < CAP_COUNT; cap++) {
            if (!o->keep[cap] && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
                fail(126, "drop capability %d: %s", cap, go_error(errno));
            }
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct cap_header header = {CAP_VERSION_3, 0};
    struct cap_data data[CAP_WORDS];
    if (syscall(SYS_capget, &header, data) == 0) {
        for (int w = 0; w < CAP_WORDS; w++) {
            data[w].inheritable = 0;
        }
        syscall(SYS_capset, &header, data);
    }
    if (setgroups(0, NULL) != 0 || setresgid(o->gid, o->gid, o->gid) != 0 ||
        setresuid(o->uid, o->uid, o->uid) != 0) {
        fail(126, "set uid %ld gid %ld: %s", o->uid, o->gid, go_error(errno));
    }
    if (o->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fail(126, "no_new_privs: %s", go_error(errno));
    }
}

/* exec.LookPath's answer, in the container's root and as the container's user. */
static const char *look_path(const char *name, char *found, size_t size) {
    struct stat st;
    if (strchr(name, '/')) {
        if (stat(name, &st) != 0) {
            fail(127, "exec: \"%s\": stat %s: %s", name, name, go_error(errno));
        }
        if (S_ISDIR(st.st_mode) || access(name, X_OK) != 0) {
            fail(126, "exec: \"%s\": permission denied", name);
        }
        return name;
    }
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", path ? path : DEFAULT_PATH);
    for (char *dir = strtok(dirs, ":"); dir; dir = strtok(NULL, ":")) {
        snprintf(found, size, "%s/%s", *dir ? dir : ".", name);
        if (stat(found, &st) == 0 && !S_ISDIR(st.st_mode) && access(found, X_OK) == 0) {
            return found;
        }
    }
    fail(127, "exec: \"%s\": executable file not found in $PATH", name);
    return NULL;
}

/* A dynamically linked program whose loader is missing fails execve with ENOENT; find out
 * before the ready line is written, so the failure is a start error as runc reports it. */
static void check_interpreter(const char *file) {
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return; /* execve will say why */
    }
    unsigned char head[64];
    ssize_t n = read(fd, head, sizeof head);
    char interp[4096] = "";
    if (n >= 4 && head[0] == '#' && head[1] == '!') {
        size_t i = 2, j = 0;
        while (i < (size_t)n && head[i] == ' ') i++;
        while (i < (size_t)n && head[i] != ' ' && head[i] != '\n' && j + 1 < sizeof interp) {
            interp[j++] = (char)head[i++];
        }
        interp[j] = '\0';
    } else if (n >= 64 && memcmp(head, "\177ELF", 4) == 0 && head[4] == 2) {
        /* 64-bit ELF: walk the program headers for PT_INTERP (type 3). */
        uint64_t phoff;
        uint16_t phentsize, phnum;
        memcpy(&phoff, head + 32, 8);
        memcpy(&phentsize, head + 54, 2);
        memcpy(&phnum, head + 56, 2);
        for (uint16_t k = 0; k < phnum && phentsize >= 56; k++) {
            unsigned char ph[56];
            if (pread(fd, ph, sizeof ph, (off_t)(phoff + (uint64_t)k * phentsize)) != 56) {
                break;
            }
            uint32_t type;
            uint64_t offset, filesz;
            memcpy(&type, ph, 4);
            memcpy(&offset, ph + 8, 8);
            memcpy(&filesz, ph + 32, 8);
            if (type == 3 && filesz > 0 && filesz < sizeof interp) {
                if (pread(fd, interp, filesz, (off_t)offset) == (ssize_t)filesz) {
                    interp[filesz - 1] = '\0';
                }
                break;
            }
        }
    }
    close(fd);
    if (interp[0] && access(interp, X_OK) != 0) {
        fail(127, "exec %s: no such file or directory", file);
    }
}

static void run(const struct options *o) {
    char found[4096];
    const char *file = look_path(o->argv[0], found, sizeof found);
    check_interpreter(file);
    if (o->ready) {
        dprintf(STDOUT_FILENO, "kubesim-ready %s\n", o->ready);
    }
    extern char **environ;
    execve(file, o->argv, environ);
    fail(127, "exec %s: %s", file, go_error(errno));
}

static pid_t child;

static void forward(int sig) {
    if (child > 0) {
        kill(child, sig);
    }
}

/* Wait for the child and exit as it did (128+N for signal N). */
static int wait_child(void) {
    signal(SIGTERM, forward);
    signal(SIGINT, forward);
    signal(SIGHUP, forward);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}

static int spawn(const char *mode, char **argv) {
    int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (strcmp(mode, "own") == 0) {
        flags |= CLONE_NEWPID;
    } else if (strcmp(mode, "host") != 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/ns/pid", number(mode, "--spawn"));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWPID) != 0) {
            fail(126, "join the PID namespace of %s: %s", mode, go_error(errno));
        }
        close(fd);
    }
    if (unshare(flags) != 0) {
        fail(126, "unshare: %s", go_error(errno));
    }
    /* Nothing mounted inside may show on the host (unshare --propagation private). */
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        fail(126, "make / private: %s", go_error(errno));
    }
    child = fork();
    if (child < 0) {
        fail(126, "fork: %s", go_error(errno));
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        execvp(argv[0], argv);
        fail(127, "exec %s: %s", argv[0], go_error(errno));
    }
    return wait_child();
}

int main(int argc, char **argv) {
    struct options o;
    parse(argc, argv, &o);
    if (o.spawn) {
        return spawn(o.spawn, o.argv);
    }
    if (o.error_fd >= 0) {
        error_fd = o.error_fd;
        fcntl(error_fd, F_SETFD, FD_CLOEXEC);
    }
    join_cgroups(&o);
    if (o.root) {
        switch_root(o.root);
    }
    if (o.enter_pid <= 0) {
        change_dir(o.wd);
        drop_privileges(&o);
        run(&o);
    }
    /* pods/exec: a new PID namespace only applies to children, so the command is a child. */
    enter_namespaces(o.enter_pid);
    if (chdir(o.wd ? o.wd : "/") != 0 && chdir("/") != 0) {
        fail(126, "chdir: %s", go_error(errno));
    }
    child = fork();
    if (child < 0) {
        fail(126, "fork: %s", go_error(errno));
    }
    if (child == 0) {
        drop_privileges(&o);
        run(&o);
    }
    return wait_child();
}
