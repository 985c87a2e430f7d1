// A JVM whose own text is hostile to Slack: each argument becomes the name of a thread that
// waits forever, so thread dumps carry those names; its jar and system properties are chosen
// by whoever starts it. Prints "hostile ready" once every thread is running.
public final class Hostile {
    public static void main(String[] args) throws Exception {
        Object never = new Object();
        for (String name : args) {
            Thread t = new Thread(() -> {
                synchronized (never) {
                    try {
                        never.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, name);
            t.setDaemon(true);
            t.start();
        }
        System.out.println("hostile ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
