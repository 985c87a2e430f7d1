import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/**
 * Virtual threads in known places, for the virtual-thread summary's tests (JDK 21+, compiled
 * with --release 11, so virtual threads are reached by reflection). `VirtualThreads N` parks N
 * virtual threads in OrderService.awaitStock, one sleeps inside `synchronized` in
 * Ledger.writeUnderLock (pins its carrier on JDK 21, not on 24+: JEP 491), one sleeps inside
 * TaxTable's class initializer (pins on every JDK), and vt-left/vt-right deadlock on two
 * monitors. Prints "virtual threads ready" when every one of them is in place.
 */
public final class VirtualThreads {
    static final Object LEDGER = new Object();
    static final Object LEFT = new Object();
    static final Object RIGHT = new Object();
    static final CountDownLatch BOTH_HOLD_ONE = new CountDownLatch(2);
    static final long FOREVER_MS = 1_000_000_000L;

    public static void main(String[] args) throws Exception {
        int parked = Integer.parseInt(args[0]);
        List<Thread> orders = new ArrayList<>();
        for (int i = 0; i < parked; i++) {
            orders.add(startVirtual("order-" + i, OrderService::awaitStock));
        }
        Thread ledger = startVirtual("ledger-writer", Ledger::writeUnderLock);
        Thread tax = startVirtual("tax-table-loader", TaxTable::load);
        Thread left = startVirtual("vt-left", () -> lockBoth(LEFT, RIGHT));
        Thread right = startVirtual("vt-right", () -> lockBoth(RIGHT, LEFT));
        for (Thread order : orders) {
            settle(order, Thread.State.WAITING);
        }
        settle(ledger, Thread.State.TIMED_WAITING);
        settle(tax, Thread.State.TIMED_WAITING);
        settle(left, Thread.State.BLOCKED);
        settle(right, Thread.State.BLOCKED);
        System.out.println("virtual threads ready");
        System.out.flush();
        Thread.sleep(FOREVER_MS);
    }

    static Thread startVirtual(String name, Runnable body) throws Exception {
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        Class<?> builderType = Class.forName("java.lang.Thread$Builder");
        Method naming = builderType.getMethod("name", String.class);
        builder = naming.invoke(builder, name);
        return (Thread) builderType.getMethod("start", Runnable.class).invoke(builder, body);
    }

    static void settle(Thread t, Thread.State state) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (t.getState() != state) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(t.getName() + " is " + t.getState());
            }
            Thread.sleep(5);
        }
    }

    static void lockBoth(Object first, Object second) {
        synchronized (first) {
            BOTH_HOLD_ONE.countDown();
            try {
                BOTH_HOLD_ONE.await();
            } catch (InterruptedException e) {
                return;
            }
            synchronized (second) {
                BOTH_HOLD_ONE.countDown();
            }
        }
    }

    static final class OrderService {
        static void awaitStock() {
            while (true) {
                LockSupport.park();
            }
        }
    }

    static final class Ledger {
        static void writeUnderLock() {
            synchronized (LEDGER) {
                try {
                    Thread.sleep(FOREVER_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    static final class TaxTable {
        static final int RATES = slowRates();

        static int slowRates() {
            try {
                Thread.sleep(FOREVER_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 0;
        }

        static void load() {
            if (RATES < 0) {
                throw new IllegalStateException("negative rates");
            }
        }
    }
}
