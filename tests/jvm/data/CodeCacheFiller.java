import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntUnaryOperator;

/**
 * Keeps the JIT compiling until the code cache is full, for the codecache analyser's tests.
 * Each round loads a fresh copy of {@link Worker} in its own class loader and makes its methods
 * hot; every copy is a new set of methods, so each one costs the code cache new nmethods. The
 * loaders stay referenced, so nothing is unloaded and the cache only grows. Prints
 * "filler started" once, then runs until it is killed.
 */
public final class CodeCacheFiller {
    private static final String WORKER = "CodeCacheFiller$Worker";

    public static void main(String[] args) throws Exception {
        byte[] bytes = classBytes(WORKER);
        List<IntUnaryOperator> copies = new ArrayList<>();
        System.out.println("filler started");
        System.out.flush();
        long sum = 0;
        while (true) {
            IntUnaryOperator copy = (IntUnaryOperator) new CopyLoader(bytes)
                    .loadClass(WORKER).getDeclaredConstructor().newInstance();
            copies.add(copy);
            for (int i = 0; i < 3000; i++) {
                sum += copy.applyAsInt(i);
            }
            if (sum == 42) {
                System.out.println("unlikely");
            }
        }
    }

    static byte[] classBytes(String name) throws Exception {
        try (InputStream in = CodeCacheFiller.class.getResourceAsStream(name + ".class")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    /** Defines its own copy of the worker instead of asking its parent. */
    static final class CopyLoader extends ClassLoader {
        private final byte[] bytes;

        CopyLoader(byte[] bytes) {
            super(CodeCacheFiller.class.getClassLoader());
            this.bytes = bytes;
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.equals(WORKER)) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> found = findLoadedClass(name);
                return found != null ? found : defineClass(name, bytes, 0, bytes.length);
            }
        }
    }

    /** Methods with enough arithmetic and branches that their compiled code is not tiny. */
    public static final class Worker implements IntUnaryOperator {
        @Override
        public int applyAsInt(int x) {
            int a = mix(x, 7) + mix(x ^ 0x5bd1e995, 13);
            int b = spread(a) - spread(x + 1);
            return a ^ b ^ fold(x, a);
        }

        private static int mix(int x, int k) {
            int h = x * 0x9e3779b9 + k;
            h ^= h >>> 16;
            h *= 0x85ebca6b;
            h ^= h >>> 13;
            h *= 0xc2b2ae35;
            return h ^ (h >>> 16);
        }

        private static int spread(int x) {
            int r = 0;
            for (int i = 0; i < 8; i++) {
                r += (x >> i) % (i + 3) == 0 ? i * x : (x ^ i) / (i + 1);
            }
            return r;
        }

        private static int fold(int x, int y) {
            switch ((x ^ y) & 7) {
                case 0: return x + y;
                case 1: return x - y;
                case 2: return x * y;
                case 3: return x / (y | 1);
                case 4: return x % (y | 1);
                case 5: return x << (y & 15);
                case 6: return x >>> (y & 15);
                default: return ~x & y;
            }
        }
    }
}
