/*
 * jdebug-attach: jdebug's own small client for HotSpot's attach mechanism, built static (musl)
 * so it runs in any image, with any libc or none, without jattach, jcmd, setpriv or timeout.
 *
 *   jdebug-attach [-t SECONDS] jcmd PID COMMAND...   run one diagnostic command, print its output
 *   jdebug-attach [-t SECONDS] list                  one line per JVM: pid uid gid nspid cmdline
 *   jdebug-attach [-t SECONDS] read PID PATH         stream PATH (under the JVM's /tmp) to stdout
 *   jdebug-attach [-t SECONDS] remove PID PATH       remove PATH (under the JVM's /tmp)
 *
 * PID is the JVM as this process sees it. As root, it becomes the JVM's uid/gid before touching
 * the JVM; as another user, it refuses. -t bounds the whole run (default 60, 0 for none).
 * Errors are one sentence on stderr. Exit codes (agent.sh uses the same numbers):
 *   0 done; 2 usage; 3 no such process, or not a JVM; 5 identity (another uid/gid, or it
 *   cannot be reached); 6 the JVM answered with a non-zero status (its output is printed as
 *   is); 8 attach disabled; 9 the JVM's /tmp is read-only or missing; 10 the JVM does not catch
 *   SIGQUIT yet; 11 transport (connect, or the JVM closed without an answer, or stdout
 *   failed); 12 no attach listener appeared after SIGQUIT; 13 the file (read/remove) is missing
 *   or not a plain file; 124 the deadline passed.
 *
 * Written from the protocol as OpenJDK implements it, and cited where each rule comes from:
 *   [client] src/jdk.attach/linux/classes/sun/tools/attach/VirtualMachineImpl.java
 *   [server] src/hotspot/os/posix/attachListener_posix.cpp (attachListener_linux.cpp in JDK 24+)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    EXIT_USAGE = 2,
    EXIT_NO_JVM = 3,
    EXIT_IDENTITY = 5,
    EXIT_JVM_ERROR = 6,
    EXIT_ATTACH_DISABLED = 8,
    EXIT_TMP_READ_ONLY = 9,
    EXIT_NOT_READY = 10,
    EXIT_TRANSPORT = 11,
    EXIT_NO_LISTENER = 12,
    EXIT_FILE = 13,
    EXIT_DEADLINE = 124,
};

/* [server] AttachOperation::arg_length_max: a longer argument makes HotSpot drop the request. */
#define ARG_LENGTH_MAX 1024
/* [client] attachTimeout()'s default: how long the JVM gets to start its listener. */
#define HANDSHAKE_MS 10000
#define SIGQUIT_BIT (1ULL << (SIGQUIT - 1))

struct proc_info {
    int pid;
    unsigned uid, gid; /* effective ids: what HotSpot compares a peer with */
    long nspid;        /* the pid inside the JVM's own namespace: it names the files */
    unsigned long long sig_caught, sig_ignored;
};

/* The trigger file, removed on every way out, the deadline's signal handler included. */
static int trigger_dir = -1;
static char trigger_name[64];
static volatile sig_atomic_t trigger_made;
static char deadline_text[256];
static size_t deadline_len;

static void remove_trigger(void)
{
    if (trigger_made) {
        unlinkat(trigger_dir, trigger_name, 0); /* async-signal-safe (POSIX.1-2008) */
        trigger_made = 0;
    }
}

static void on_deadline(int sig)
{
    (void)sig;
    remove_trigger();
    if (write(STDERR_FILENO, deadline_text, deadline_len) < 0) {
        /* nothing left to tell anyone */
    }
    _exit(EXIT_DEADLINE);
}

/* From now on, the whole run ends after `seconds` (0: never) with the sentence already in
 * deadline_text and exit 124, as timeout(1) would, the trigger file removed. */
static void arm_deadline(long seconds, int len)
{
    deadline_len = len < 0 ? 0 : (size_t)len >= sizeof deadline_text ? sizeof deadline_text - 1
                                                                   : (size_t)len;
    signal(SIGALRM, on_deadline);
    alarm((unsigned)seconds);
}

__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *fmt, ...)
{
    va_list ap;
    remove_trigger();
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void usage(void)
{
    fail(EXIT_USAGE, "usage: jdebug-attach [-t SECONDS] jcmd PID COMMAND... | list | "
                     "read PID PATH | remove PID PATH | as PID PROGRAM [ARG...]");
}

/* A whole small file (a /proc entry) into buf, NUL-terminated; its length, or -1. */
static ssize_t read_file_at(int dir, const char *path, char *buf, size_t cap)
{
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    if (fd < 0)
        return -1;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static ssize_t read_proc(int pid, const char *entry, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, entry);
    return read_file_at(AT_FDCWD, path, buf, cap);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Copy fd to stdout until EOF; -1 when stdout fails. */
static int copy_to_stdout(int fd, const char *head, size_t head_len)
{
    static char buf[65536];
    if (write_all(STDOUT_FILENO, head, head_len) < 0)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            return -1;
    }
}

static int parse_pid(const char *text)
{
    char *end;
    long value;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno || end == text || *end || value < 1 || value > INT_MAX || text[0] == '+' ||
        text[0] == '-' || text[0] == ' ')
        fail(EXIT_USAGE, "the pid must be a positive number, got '%s'", text);
    return (int)value;
}

/* The second field of "Uid:"/"Gid:", the last of "NSpid:" ([client] getNamespacePid), and the
 * signal masks, from /proc/PID/status (world-readable). 0 when the process is gone. */
static int read_status(int pid, struct proc_info *info)
{
    char buf[8192];
    char *line;
    memset(info, 0, sizeof *info);
    info->pid = pid;
    info->nspid = pid; /* kernels before 4.1 have no NSpid line */
    if (read_proc(pid, "status", buf, sizeof buf) <= 0)
        return 0;
    for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (!strncmp(line, "Uid:", 4))
            sscanf(line + 4, "%*u %u", &info->uid);
        else if (!strncmp(line, "Gid:", 4))
            sscanf(line + 4, "%*u %u", &info->gid);
        else if (!strncmp(line, "SigCgt:", 7))
            sscanf(line + 7, "%llx", &info->sig_caught);
        else if (!strncmp(line, "SigIgn:", 7))
            sscanf(line + 7, "%llx", &info->sig_ignored);
        else if (!strncmp(line, "NSpid:", 6)) {
            char *field = line + 6, *end;
            for (;;) {
                long value = strtol(field, &end, 10);
                if (end == field)
                    break;
                info->nspid = value;
                field = end;
            }
        }
    }
    return 1;
}

/* Does the process map HotSpot's library? /proc/PID/maps needs ptrace read access. */
static int maps_libjvm(int pid)
{
    char path[64];
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    FILE *maps;
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    maps = fopen(path, "re");
    if (!maps)
        return 0;
    while (!found && getline(&line, &cap, maps) > 0)
        found = strstr(line, "/libjvm.so") != NULL;
    free(line);
    fclose(maps);
    return found;
}

/* Does its /tmp hold hsperfdata_<user>/<nspid>, the file HotSpot's perf memory writes? */
static int has_hsperfdata(const struct proc_info *info)
{
    char path[64], name[300];
    struct dirent *entry;
    struct stat st;
    int found = 0;
    DIR *tmp;
    snprintf(path, sizeof path, "/proc/%d/root/tmp", info->pid);
    tmp = opendir(path);
    if (!tmp)
        return 0;
    while (!found && (entry = readdir(tmp))) {
        if (strncmp(entry->d_name, "hsperfdata_", 11))
            continue;
        snprintf(name, sizeof name, "%s/%ld", entry->d_name, info->nspid);
        found = !fstatat(dirfd(tmp), name, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode);
    }
    closedir(tmp);
    return found;
}

/* A JVM: the `java` launcher (by comm, which needs no access), or any launcher (jsvc,
 * rmiregistry, install4j's) whose process has HotSpot's perf file or maps libjvm.so. */
static int is_jvm(const struct proc_info *info)
{
    char comm[32];
    if (read_proc(info->pid, "comm", comm, sizeof comm) > 0 && !strcmp(comm, "java\n"))
        return 1;
    return has_hsperfdata(info) || maps_libjvm(info->pid);
}

/* The JDK's own attach and perf tools are JVMs too, but never a target. */
static int is_jdk_tool(const char *cmdline, size_t len)
{
    static const char *const tools[] = {"jcmd", "jps",   "jstack", "jinfo", "jmap",
                                        "jstat", "jhsdb", "jfr",    NULL};
    const char *base = strrchr(cmdline, '/');
    const char *arg;
    base = base ? base + 1 : cmdline;
    for (int i = 0; tools[i]; i++)
        if (!strcmp(base, tools[i]))
            return 1;
    for (arg = cmdline; arg < cmdline + len; arg += strlen(arg) + 1)
        if (strstr(arg, "sun.tools.jcmd.JCmd") || strstr(arg, "sun.tools.jps.Jps"))
            return 1;
    return 0;
}

/* Whether the JVM runs with -XX:+DisableAttachMechanism, from its command line and the
 * variables the launcher and HotSpot read options from; the last setting wins. */
static int attach_disabled(int pid)
{
    static const char *const sources[] = {"JAVA_TOOL_OPTIONS=", "JDK_JAVA_OPTIONS=", NULL,
                                          "_JAVA_OPTIONS=", NULL};
    static char environ_buf[65536], cmdline[65536];
    ssize_t env_len = read_proc(pid, "environ", environ_buf, sizeof environ_buf);
    ssize_t cmd_len = read_proc(pid, "cmdline", cmdline, sizeof cmdline);
    int disabled = 0;
    for (int s = 0; s < 4; s++) {
        char *text = NULL, *word, *save;
        if (s == 2) {
            for (char *arg = cmdline; arg < cmdline + cmd_len; arg += strlen(arg) + 1) {
                if (!strcmp(arg, "-XX:+DisableAttachMechanism"))
                    disabled = 1;
                else if (!strcmp(arg, "-XX:-DisableAttachMechanism"))
                    disabled = 0;
            }
            continue;
        }
        for (char *var = environ_buf; var < environ_buf + env_len; var += strlen(var) + 1)
            if (!strncmp(var, sources[s], strlen(sources[s])))
                text = var + strlen(sources[s]);
        for (word = text ? strtok_r(text, " \t", &save) : NULL; word;
             word = strtok_r(NULL, " \t", &save)) {
            if (!strcmp(word, "-XX:+DisableAttachMechanism"))
                disabled = 1;
            else if (!strcmp(word, "-XX:-DisableAttachMechanism"))
                disabled = 0;
        }
    }
    return disabled;
}

/* Become the JVM's uid/gid. HotSpot answers only its own euid/egid or root ([server]
 * matches_effective_uid_and_gid_or_root), and the kernel lets a process of the same uid/gid
 * without capabilities into /proc/PID/root; this is what setpriv did for the agent. */
static void become_owner_of(const struct proc_info *jvm)
{
    unsigned uid = (unsigned)geteuid(), gid = (unsigned)getegid();
    if (uid == 0 && jvm->uid == 0) {
        if (gid != jvm->gid && (setgroups(0, NULL) || setgid(jvm->gid)))
            fail(EXIT_IDENTITY, "the JVM (pid %d) runs as uid 0 gid %u and this debug process "
                 "could not switch to gid %u: %s", jvm->pid, jvm->gid, jvm->gid,
                 strerror(errno));
        return;
    }
    if (uid == 0) {
        if (setgroups(0, NULL) || setgid(jvm->gid) || setuid(jvm->uid))
            fail(EXIT_IDENTITY, "the JVM (pid %d) runs as uid %u gid %u and this debug process "
                 "could not switch to them (%s); run it as runAsUser: %u, runAsGroup: %u",
                 jvm->pid, jvm->uid, jvm->gid, strerror(errno), jvm->uid, jvm->gid);
        return;
    }
    if (uid != jvm->uid || gid != jvm->gid)
        fail(EXIT_IDENTITY, "the JVM (pid %d) runs as uid %u gid %u but this debug process runs "
             "as uid %u gid %u; run it as runAsUser: %u, runAsGroup: %u", jvm->pid, jvm->uid,
             jvm->gid, uid, gid, jvm->uid, jvm->gid);
}

static void find_process(int pid, struct proc_info *info)
{
    if (!read_status(pid, info))
        fail(EXIT_NO_JVM, "no process with pid %d is visible here", pid);
}

/* The JVM's own /tmp, through its root: where the socket and the trigger live whatever the
 * mount namespaces ([client] findTargetProcessTmpDirectory). */
static int open_jvm_tmp(const struct proc_info *jvm)
{
    char path[64];
    int fd;
    snprintf(path, sizeof path, "/proc/%d/root/tmp", jvm->pid);
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (errno == ENOENT && kill(jvm->pid, 0) == 0)
        fail(EXIT_TMP_READ_ONLY, "the JVM (pid %d) has no /tmp, so the attach handshake cannot "
             "create its socket; mount an emptyDir at /tmp in the app container", jvm->pid);
    if (errno == ENOENT || errno == ESRCH)
        fail(EXIT_NO_JVM, "the process with pid %d exited", jvm->pid);
    if (jvm->uid == 0)
        fail(EXIT_IDENTITY, "cannot reach the JVM's /tmp through %s (%s): a JVM running as root "
             "can only be reached by a root debug process that keeps the runtime's default "
             "capabilities; do not drop ALL", path, strerror(errno));
    fail(EXIT_IDENTITY, "cannot reach the JVM's /tmp through %s (%s); run the debug process as "
         "runAsUser: %u, runAsGroup: %u", path, strerror(errno), jvm->uid, jvm->gid);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static int socket_ready(int tmp, const char *name, unsigned uid)
{
    struct stat st;
    return !fstatat(tmp, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISSOCK(st.st_mode) &&
           st.st_uid == uid;
}

static int catches_sigquit(int pid)
{
    struct proc_info now;
    return read_status(pid, &now) && (now.sig_caught & SIGQUIT_BIT) &&
           !(now.sig_ignored & SIGQUIT_BIT);
}

/* Start the attach listener: the trigger file in the JVM's own /tmp, owned by its euid (the
 * only owner HotSpot accepts besides root, [server] is_init_trigger), then SIGQUIT, then poll
 * for the socket. The trigger goes into the JVM's /tmp, never ours: jcmd 11-21 put it in their
 * own /tmp across mount namespaces and the attach failed (JDK-8327114). */
static void start_listener(const struct proc_info *jvm, int tmp, const char *socket_name)
{
    long waited = 0, delay = 2;
    int fd, resent = 0;
    if (faccessat(tmp, ".", W_OK, 0))
        fail(EXIT_TMP_READ_ONLY, "the JVM's /tmp is read-only (or not writable: %s), so the "
             "attach handshake cannot create its socket; mount an emptyDir at /tmp in the app "
             "container", strerror(errno));
    if (attach_disabled(jvm->pid))
        fail(EXIT_ATTACH_DISABLED, "the JVM (pid %d) runs with -XX:+DisableAttachMechanism, so "
             "no JDK tool can attach; remove that flag and restart it to diagnose it", jvm->pid);
    /* [client] checkCatchesAndSendQuitTo: a process that does not catch SIGQUIT is killed by
     * it, and a JVM only catches it once it has started. */
    if (!catches_sigquit(jvm->pid))
        fail(EXIT_NOT_READY, "the JVM (pid %d) does not handle SIGQUIT yet (it may still be "
             "starting); try again in a few seconds", jvm->pid);
    trigger_dir = tmp;
    snprintf(trigger_name, sizeof trigger_name, ".attach_pid%ld", jvm->nspid);
    fd = openat(tmp, trigger_name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        fail(EXIT_TMP_READ_ONLY, "cannot create the attach trigger in the JVM's /tmp (%s); "
             "mount an emptyDir at /tmp in the app container", strerror(errno));
    trigger_made = 1;
    close(fd);
    if (kill(jvm->pid, SIGQUIT))
        fail(EXIT_NO_JVM, "cannot signal the JVM (pid %d): %s", jvm->pid, strerror(errno));
    /* [client]: poll with a growing delay; signal once more halfway, as the JDK does. */
    while (!socket_ready(tmp, socket_name, jvm->uid)) {
        if (waited >= HANDSHAKE_MS)
            fail(EXIT_NO_LISTENER, "the JVM (pid %d) did not start its attach listener within "
                 "%ds of SIGQUIT: it may be hung or stuck in a long safepoint (such as a long GC "
                 "pause); check its CPU use and GC log, and try again once it responds",
                 jvm->pid, HANDSHAKE_MS / 1000);
        if (kill(jvm->pid, 0) && errno == ESRCH)
            fail(EXIT_NO_JVM, "the JVM (pid %d) exited during the attach handshake", jvm->pid);
        if (!resent && waited >= HANDSHAKE_MS / 2) {
            resent = 1;
            if (catches_sigquit(jvm->pid))
                kill(jvm->pid, SIGQUIT);
        }
        sleep_ms(delay);
        waited += delay;
        delay = delay * 2 > 100 ? 100 : delay * 2;
    }
    remove_trigger();
}

static int connect_to(const struct proc_info *jvm, const char *socket_name)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/%d/root/tmp/%s", jvm->pid, socket_name);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
        fail(EXIT_TRANSPORT, "cannot connect to the JVM's attach socket %s: %s", addr.sun_path,
             strerror(errno));
    return fd;
}

/* [server] read_request: "<ver>\0<cmd>\0<arg>\0<arg>\0<arg>\0", protocol 1, exactly three
 * arguments; jcmd sends its whole command line as the first. The reply is "<status>\n" and
 * the output until EOF ([server] PosixAttachOperation::complete). */
static int run_jcmd(const struct proc_info *jvm, int tmp, const char *line)
{
    char socket_name[64], request[ARG_LENGTH_MAX + 32], status[32];
    size_t len = strlen(line), got = 0;
    char *newline = NULL;
    int fd;
    snprintf(socket_name, sizeof socket_name, ".java_pid%ld", jvm->nspid);
    if (!socket_ready(tmp, socket_name, jvm->uid))
        start_listener(jvm, tmp, socket_name);
    fd = connect_to(jvm, socket_name);
    memcpy(request, "1\0jcmd\0", 7);
    memcpy(request + 7, line, len);
    memcpy(request + 7 + len, "\0\0\0", 3);
    if (write_all(fd, request, 7 + len + 3) < 0)
        fail(EXIT_TRANSPORT, "the JVM (pid %d) closed the attach connection before the request "
             "was sent: %s", jvm->pid, strerror(errno));
    while (!newline && got < sizeof status - 1) {
        ssize_t n = read(fd, status + got, sizeof status - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        status[got] = '\0';
        newline = memchr(status, '\n', got);
    }
    if (!newline)
        fail(EXIT_TRANSPORT, "the JVM (pid %d) closed the attach connection without an answer: "
             "it answers only its own uid and gid, or root", jvm->pid);
    *newline = '\0';
    if (copy_to_stdout(fd, newline + 1, got - (size_t)(newline + 1 - status)) < 0)
        fail(EXIT_TRANSPORT, "cannot write the JVM's answer to stdout: %s", strerror(errno));
    close(fd);
    return atoi(status) == 0 ? 0 : EXIT_JVM_ERROR;
}

static void list_jvms(void)
{
    static char cmdline[65536];
    int self = getpid(), as_root = geteuid() == 0;
    struct dirent *entry;
    DIR *proc = opendir("/proc");
    if (!proc)
        fail(EXIT_NO_JVM, "cannot read /proc: %s", strerror(errno));
    while ((entry = readdir(proc))) {
        struct proc_info info;
        int pid, jvm;
        ssize_t len;
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        pid = atoi(entry->d_name);
        /* Kernel threads and zombies have no command line. */
        if (pid == self || (len = read_proc(pid, "cmdline", cmdline, sizeof cmdline)) <= 0 ||
            !read_status(pid, &info))
            continue;
        /* Root without CAP_SYS_PTRACE reaches another uid's /proc/PID/root and maps only with
         * that uid's fsuid/fsgid (procfs checks PTRACE_MODE_READ_FSCREDS): a syscall, no fork. */
        if (as_root) {
            setfsgid(info.gid);
            setfsuid(info.uid);
        }
        jvm = is_jvm(&info);
        if (as_root) {
            setfsuid(0);
            setfsgid(0);
        }
        if (!jvm || is_jdk_tool(cmdline, (size_t)len))
            continue;
        /* Arguments joined by spaces, as agent.sh does; tabs and newlines would break lines. */
        for (ssize_t i = 0; i < len - 1; i++)
            if (cmdline[i] == '\0' || cmdline[i] == '\t' || cmdline[i] == '\n')
                cmdline[i] = ' ';
        printf("%d\t%u\t%u\t%ld\t%s\n", pid, info.uid, info.gid, info.nspid, cmdline);
    }
    closedir(proc);
    if (fflush(stdout))
        fail(EXIT_TRANSPORT, "cannot write the list to stdout: %s", strerror(errno));
}

/* Walk PATH (/tmp/...) from the JVM's /tmp without following any symbolic link: through
 * /proc/PID/root an absolute link would resolve in *our* root, not the JVM's. Returns the
 * folder holding the last component, whose name goes to *last. */
static int walk_under_tmp(int tmp, char *path, const char **last)
{
    char *part, *save, *next;
    int dir = tmp;
    if (strncmp(path, "/tmp/", 5))
        fail(EXIT_USAGE, "'%s' is not under /tmp; only files in the JVM's /tmp can be read or "
             "removed", path);
    for (part = path + 5; *part; part = next) {
        next = strchr(part, '/');
        if ((!next && !strcmp(part, "..")) || (next && next - part == 2 && !strncmp(part, "..", 2)))
            fail(EXIT_USAGE, "'%s' contains '..'; give a path under /tmp without it", path);
        if (!next)
            break;
        next++;
    }
    *last = NULL;
    for (part = strtok_r(path + 5, "/", &save); part; part = next) {
        next = strtok_r(NULL, "/", &save);
        if (!next) {
            *last = part;
            break;
        }
        if (!strcmp(part, "."))
            continue;
        int sub = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            fail(EXIT_FILE, "cannot open the folder '%s' in the JVM's /tmp (%s); give the path of "
                 "a plain file, without symbolic links", part, strerror(errno));
        if (dir != tmp)
            close(dir);
        dir = sub;
    }
    if (!*last || !strcmp(*last, "."))
        fail(EXIT_USAGE, "name a file under /tmp, not a folder");
    return dir;
}

static void read_file(const struct proc_info *jvm, int tmp, char *path)
{
    char shown[PATH_MAX];
    const char *name;
    struct stat st;
    int dir, fd;
    snprintf(shown, sizeof shown, "%s", path);
    dir = walk_under_tmp(tmp, path, &name);
    fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode))
        fail(EXIT_FILE, "there is no plain file %s in the filesystem of pid %d (%s)", shown,
             jvm->pid, fd >= 0 ? "not a regular file" : errno == ELOOP ? "a symbolic link"
                                                                     : strerror(errno));
    if (copy_to_stdout(fd, "", 0) < 0)
        fail(EXIT_TRANSPORT, "cannot write %s to stdout: %s", shown, strerror(errno));
    close(fd);
}

static void remove_file(const struct proc_info *jvm, int tmp, char *path)
{
    char shown[PATH_MAX];
    const char *name;
    int dir;
    snprintf(shown, sizeof shown, "%s", path);
    dir = walk_under_tmp(tmp, path, &name);
    if (unlinkat(dir, name, 0))
        fail(EXIT_FILE, "cannot remove %s in the filesystem of pid %d: %s", shown, jvm->pid,
             strerror(errno));
}

int main(int argc, char **argv)
{
    static char line[ARG_LENGTH_MAX + 2];
    struct proc_info jvm;
    size_t used = 0;
    long deadline = 60;
    const char *mode;
    int arg = 1, tmp, pid;
    if (arg + 1 < argc && !strcmp(argv[arg], "-t")) {
        char *end;
        deadline = strtol(argv[arg + 1], &end, 10);
        if (*end || end == argv[arg + 1] || deadline < 0 || deadline > 86400)
            fail(EXIT_USAGE, "the deadline must be whole seconds from 0 to 86400, got '%s'",
                 argv[arg + 1]);
        arg += 2;
    }
    if (arg >= argc)
        usage();
    mode = argv[arg++];
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(mode, "list") && arg == argc) {
        arm_deadline(deadline, snprintf(deadline_text, sizeof deadline_text,
                                        "listing the JVMs did not finish within the deadline "
                                        "of %lds\n", deadline));
        list_jvms();
        return 0;
    }
    if (!strcmp(mode, "as") && arg + 2 <= argc) {
        /* Run a program as the JVM's uid/gid, as setpriv --reuid --regid --clear-groups would:
         * the agent's snippets and file steps need it where the image has no util-linux. */
        pid = parse_pid(argv[arg++]);
        find_process(pid, &jvm);
        become_owner_of(&jvm);
        execvp(argv[arg], argv + arg);
        fail(EXIT_USAGE, "cannot run %s: %s", argv[arg], strerror(errno));
    }
    if (strcmp(mode, "jcmd") && strcmp(mode, "read") && strcmp(mode, "remove"))
        usage();
    if (arg >= argc || (strcmp(mode, "jcmd") ? arg + 2 != argc : arg + 2 > argc))
        usage();
    pid = parse_pid(argv[arg++]);
    if (!strcmp(mode, "jcmd"))
        arm_deadline(deadline,
                     snprintf(deadline_text, sizeof deadline_text,
                              "the JVM (pid %d) did not answer within the deadline of %lds: it may "
                              "be hung or stuck in a long safepoint (such as a long GC pause); "
                              "check its CPU use and GC log, and try again once it responds\n",
                              pid, deadline));
    else
        arm_deadline(deadline, snprintf(deadline_text, sizeof deadline_text,
                                        "%s %s in the filesystem of pid %d did not finish within "
                                        "the deadline of %lds; give it a longer one with -t\n",
                                        mode, argv[arg], pid, deadline));

    if (!strcmp(mode, "jcmd")) {
        /* The command line as jcmd builds it: its words joined by single spaces. */
        for (; arg < argc; arg++) {
            int n = snprintf(line + used, sizeof line - used, "%s%s", used ? " " : "", argv[arg]);
            if (n < 0 || (size_t)n > ARG_LENGTH_MAX - used)
                fail(EXIT_USAGE, "the jcmd line is longer than the %d bytes the attach protocol "
                     "takes", ARG_LENGTH_MAX);
            used += (size_t)n;
        }
    }
    find_process(pid, &jvm);
    become_owner_of(&jvm);
    tmp = open_jvm_tmp(&jvm);
    if (!strcmp(mode, "read")) {
        read_file(&jvm, tmp, argv[arg]);
        return 0;
    }
    if (!strcmp(mode, "remove")) {
        remove_file(&jvm, tmp, argv[arg]);
        return 0;
    }
    if (!is_jvm(&jvm))
        fail(EXIT_NO_JVM, "pid %d is not a JVM (no libjvm.so is mapped in it)", pid);
    return run_jcmd(&jvm, tmp, line);
}
