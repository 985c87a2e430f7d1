package cowweb;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * cowsay as a service: the JVM that jdebug's tests and demo attach to.
 *
 * Besides the HTTP server it starts named threads in known states, so a thread dump
 * has something to find: RUNNABLE (the acceptor), TIMED_WAITING (sleepers and the barn
 * door holder), BLOCKED (cows queuing for the barn door), WAITING (the milker parked on
 * a ReentrantLock condition) and, with --deadlock, two workers in a monitor deadlock.
 * Plain sockets, not com.sun.net.httpserver, because JRE 11 images may lack jdk.httpserver.
 */
public final class Main {
    static final class BarnDoor {}
    static final class Hay {}
    static final class Milk {}

    static final BarnDoor BARN_DOOR = new BarnDoor();
    static final Hay HAY = new Hay();
    static final Milk MILK = new Milk();
    static final ReentrantLock PAIL = new ReentrantLock();
    static final Condition PAIL_FULL = PAIL.newCondition();

    public static void main(String[] args) throws Exception {
        int port = 8080;
        boolean deadlock = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--port")) {
                port = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--deadlock")) {
                deadlock = true;
            } else {
                System.err.println("usage: cowweb [--port N] [--deadlock]");
                System.exit(2);
            }
        }
        Thread holder = start("barn-door-holder", Main::holdBarnDoor);
        settle(holder, Thread.State.TIMED_WAITING); // holds the monitor before cows queue
        settle(start("cow-waiting-1", Main::enterBarn), Thread.State.BLOCKED);
        settle(start("cow-waiting-2", Main::enterBarn), Thread.State.BLOCKED);
        settle(start("cow-sleeper-1", Main::sleepForever), Thread.State.TIMED_WAITING);
        settle(start("cow-sleeper-2", Main::sleepForever), Thread.State.TIMED_WAITING);
        settle(start("milker", Main::waitForPail), Thread.State.WAITING);
        if (deadlock) {
            Thread w3 = start("worker-3", () -> lockBoth(HAY, MILK));
            Thread w4 = start("worker-4", () -> lockBoth(MILK, HAY));
            settle(w3, Thread.State.BLOCKED);
            settle(w4, Thread.State.BLOCKED);
        }
        ServerSocket server = new ServerSocket(port, 50, InetAddress.getLoopbackAddress());
        System.out.println("cowweb listening on port " + server.getLocalPort()
                + (deadlock ? " (with a deadlock)" : ""));
        System.out.flush();
        Thread acceptor = new Thread(() -> serve(server), "http-acceptor");
        acceptor.start();
        acceptor.join();
    }

    static Thread start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Wait until `t` reaches `state`, so the banner means "every thread is in place". */
    static void settle(Thread t, Thread.State state) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.getState() != state && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    static void holdBarnDoor() {
        synchronized (BARN_DOOR) {
            sleepForever();
        }
    }

    static void enterBarn() {
        synchronized (BARN_DOOR) {
            sleepForever();
        }
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

    static void waitForPail() {
        PAIL.lock();
        try {
            while (true) {
                PAIL_FULL.awaitUninterruptibly();
            }
        } finally {
            PAIL.unlock();
        }
    }

    static void lockBoth(Object first, Object second) {
        synchronized (first) {
            pause(200);
            synchronized (second) {
                sleepForever();
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

    static void serve(ServerSocket server) {
        while (true) {
            try (Socket client = server.accept()) {
                answer(client);
            } catch (IOException e) {
                System.err.println("cowweb: " + e.getMessage());
            }
        }
    }

    static void answer(Socket client) throws IOException {
        BufferedReader in = new BufferedReader(
                new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8));
        String requestLine = in.readLine();
        String say = "Moo!";
        if (requestLine != null) {
            int q = requestLine.indexOf("?say=");
            if (q >= 0) {
                int end = requestLine.indexOf(' ', q);
                String raw = requestLine.substring(q + 5, end < 0 ? requestLine.length() : end);
                say = URLDecoder.decode(raw, "UTF-8");
            }
        }
        byte[] body = cowsay(say).getBytes(StandardCharsets.UTF_8);
        OutputStream out = client.getOutputStream();
        out.write(("HTTP/1.0 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    static String cowsay(String text) {
        String line = "-".repeat(text.length() + 2);
        return " " + line + "\n< " + text + " >\n " + line + "\n"
                + "        \\   ^__^\n"
                + "         \\  (oo)\\_______\n"
                + "            (__)\\       )\\/\\\n"
                + "                ||----w |\n"
                + "                ||     ||\n";
    }
}
