import java.util.Random;

/**
 * The JVM behaviours the `hot` and `gc` tests look for, one per mode (the first argument):
 * "burn" spins one thread named jdebug-burner in GcWorkloads.burnCpu, "churn" keeps about 45%
 * of the heap alive while replacing it and making short-lived garbage in jdebug-churner, and
 * "spawn" starts a thread jdebug-spawned-N every 200 ms that burns about 30 ms of CPU and
 * ends 400 ms after it started, and "idle" only sleeps. Each prints "ready MODE" once its work is under way; "churn" prints
 * "live BYTES" before that, then "churned N" every 100 ms: N replacements so far, each of
 * which allocates one 4 KiB array and eight 512-byte ones.
 */
public final class GcWorkloads {
    static final String BURNER = "jdebug-burner";
    static final String CHURNER = "jdebug-churner";
    static final int CHUNK_BYTES = 4 * 1024;
    static volatile long sink;
    static volatile Object garbage;
    static volatile long churned;

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "";
        switch (mode) {
            case "burn":
                start(BURNER, GcWorkloads::burnCpu);
                break;
            case "churn":
                byte[][] live = liveSet(0.45);
                System.out.println("live " + (long) live.length * CHUNK_BYTES);
                start(CHURNER, () -> churnHeap(live));
                start("jdebug-reporter", GcWorkloads::reportChurn);
                break;
            case "spawn":
                start("jdebug-starter", GcWorkloads::spawnThreads);
                break;
            case "idle":
                break;
            default:
                System.err.println("usage: GcWorkloads burn|churn|spawn|idle");
                System.exit(2);
        }
        System.out.println("ready " + mode);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    static void start(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** A full core forever: a loop with no allocation, no I/O and no sleep. */
    static void burnCpu() {
        long x = 1;
        while (true) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            if ((x & 0xfffff) == 0) {
                sink = x;
            }
        }
    }

    /** Small arrays filling `share` of the maximum heap, so the old generation holds them. */
    static byte[][] liveSet(double share) {
        int count = (int) (Runtime.getRuntime().maxMemory() * share / CHUNK_BYTES);
        byte[][] live = new byte[count][];
        for (int i = 0; i < count; i++) {
            live[i] = new byte[CHUNK_BYTES];
        }
        return live;
    }

    /**
     * Replaces random live chunks (so old objects die and new ones get promoted) and makes
     * eight short-lived arrays per replacement: both generations keep collecting.
     */
    static void churnHeap(byte[][] live) {
        Random random = new Random(15);
        while (true) {
            live[random.nextInt(live.length)] = new byte[CHUNK_BYTES];
            for (int i = 0; i < 8; i++) {
                garbage = new byte[512];
            }
            churned++;
        }
    }

    /** A new thread every 200 ms, each living 400 ms: at any moment one or two are alive. */
    static void spawnThreads() {
        for (int n = 1; ; n++) {
            new Thread(GcWorkloads::liveBriefly, "jdebug-spawned-" + n).start();
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** About 30 ms of CPU, then idle until 400 ms after the start. */
    static void liveBriefly() {
        long start = System.nanoTime();
        long x = 1;
        while (System.nanoTime() - start < 30_000_000L) {
            x = x * 6364136223846793005L + 1442695040888963407L;
        }
        sink = x;
        try {
            Thread.sleep(370);
        } catch (InterruptedException e) {
            return;
        }
    }

    static void reportChurn() {
        while (true) {
            System.out.println("churned " + churned);
            System.out.flush();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
