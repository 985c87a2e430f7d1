import java.util.concurrent.locks.ReentrantLock;

/**
 * Workloads with one known answer each, for the JFR profile tests: `cpu` burns a core in
 * {@code burnCpu}, `alloc` allocates {@code Payload} objects in {@code allocatePayloads}, `lock`
 * makes four threads fight over one {@code ContendedLock} monitor (and two over a
 * ReentrantLock, so parks show up too). Prints "workload NAME ready" once its threads run.
 * Compiled with {@code javac --release 11} so every JDK from 11 on runs it.
 */
public final class ProfileWorkloads {
    /** The monitor the `lock` workload's threads contend on; its class names the lock. */
    static final class ContendedLock {}

    /** What `alloc` allocates: 40 bytes with the header, so the class leads by weight. */
    static final class Payload {
        final long a;
        final long b;
        final long c;

        Payload(long seed) {
            a = seed;
            b = seed * 31;
            c = seed ^ 0x5DEECE66DL;
        }
    }

    static final ContendedLock MONITOR = new ContendedLock();
    static final ReentrantLock GATE = new ReentrantLock();
    // Where allocations escape to, so the JIT cannot remove them; volatile reads keep
    // the burner's result alive for the same reason.
    static final Object[] SINK = new Object[1024];
    static volatile long blackhole;

    public static void main(String[] args) throws Exception {
        String name = args.length > 0 ? args[0] : "";
        switch (name) {
            case "cpu":
                start("burner", ProfileWorkloads::burnCpu);
                break;
            case "alloc":
                start("allocator", ProfileWorkloads::allocatePayloads);
                break;
            case "lock":
                for (int i = 1; i <= 4; i++) {
                    start("contender-" + i, ProfileWorkloads::holdMonitor);
                }
                for (int i = 1; i <= 2; i++) {
                    start("gate-" + i, ProfileWorkloads::holdGate);
                }
                break;
            default:
                System.err.println("usage: ProfileWorkloads cpu|alloc|lock");
                System.exit(2);
        }
        System.out.println("workload " + name + " ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static void start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
    }

    /**
     * All the work happens in this one frame, so it is the top frame of the samples. The loop
     * counts with a long: an int-counted inner loop keeps JDK 21's sampler from ever catching
     * the thread in Java code (0 samples in 3 s), this one is sampled like any other.
     */
    static void burnCpu() {
        long x = 1;
        for (long i = 0; ; i++) {
            x = x * 6364136223846793005L + i;
            x ^= x >>> 29;
            if ((i & 0xFFFFF) == 0) {
                blackhole = x;
            }
        }
    }

    static void allocatePayloads() {
        long i = 0;
        while (true) {
            SINK[(int) (i & 1023)] = new Payload(i);
            i++;
        }
    }

    static void holdMonitor() {
        while (true) {
            synchronized (MONITOR) {
                pause(20);
            }
        }
    }

    static void holdGate() {
        while (true) {
            GATE.lock();
            try {
                pause(20);
            } finally {
                GATE.unlock();
            }
        }
    }

    static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
