import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Thread knots that cowweb does not tie, for the thread-dump parser's tests: names with quotes
 * and spaces (one that mimics a whole header), a ReentrantLock deadlock, a queue behind a
 * ReentrantLock holder and a pool of five identical sleepers. Prints "knots ready" when set.
 */
public final class Knots {
    static final ReentrantLock LEFT = new ReentrantLock();
    static final ReentrantLock RIGHT = new ReentrantLock();
    static final ReentrantLock GATE = new ReentrantLock();
    static final CountDownLatch BOTH_HOLD_ONE = new CountDownLatch(2);

    public static void main(String[] args) throws Exception {
        settle(start("say \"moo\" now", Knots::sleepForever), Thread.State.TIMED_WAITING);
        settle(start("tricky\" #99 daemon prio=5 os_prio=0 tid=0x1 nid=0x1 runnable  [0x0]",
                Knots::sleepForever), Thread.State.TIMED_WAITING);
        settle(start("gate-keeper", () -> {
            GATE.lock();
            sleepForever();
        }), Thread.State.TIMED_WAITING);
        for (int i = 1; i <= 3; i++) {
            settle(start("gate-queue-" + i, GATE::lock), Thread.State.WAITING);
        }
        Thread lr = start("left-right", () -> lockBoth(LEFT, RIGHT));
        Thread rl = start("right-left", () -> lockBoth(RIGHT, LEFT));
        settle(lr, Thread.State.WAITING);
        settle(rl, Thread.State.WAITING);
        for (int i = 1; i <= 5; i++) {
            settle(start("pool-" + i, Knots::poolWork), Thread.State.TIMED_WAITING);
        }
        System.out.println("knots ready");
        System.out.flush();
        sleepForever();
    }

    static Thread start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void settle(Thread t, Thread.State state) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.getState() != state && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    static void lockBoth(ReentrantLock first, ReentrantLock second) {
        first.lock();
        BOTH_HOLD_ONE.countDown();
        try {
            BOTH_HOLD_ONE.await();
        } catch (InterruptedException e) {
            return;
        }
        second.lock();
    }

    static void poolWork() {
        sleepForever();
    }

    static void sleepForever() {
        while (true) {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
