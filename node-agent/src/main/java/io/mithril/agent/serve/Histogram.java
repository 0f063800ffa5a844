package io.mithril.agent.serve;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/** A Prometheus histogram with fixed buckets, in seconds. Lock-free. */
final class Histogram {

    static final double[] LATENCY_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
    };

    private final String name;
    private final String help;
    private final double[] bounds;
    private final AtomicLongArray counts;
    private final DoubleAdder sum = new DoubleAdder();
    private final LongAdder count = new LongAdder();

    public Histogram(String name, String help) {
        this.name = name;
        this.help = help;
        this.bounds = LATENCY_BUCKETS;
        this.counts = new AtomicLongArray(bounds.length);
    }

    public void observeNanos(long nanos) {
        double s = nanos / 1e9;
        for (int i = 0; i < bounds.length; i++) {
            if (s <= bounds[i]) {
                counts.incrementAndGet(i);
                break;
            }
        }
        sum.add(s);
        count.increment();
    }

    public long count() {
        return count.sum();
    }

    void write(StringBuilder b) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" histogram\n");
        long cumulative = 0;
        for (int i = 0; i < bounds.length; i++) {
            cumulative += counts.get(i);
            b.append(name)
                    .append("_bucket{le=\"")
                    .append(fmt(bounds[i]))
                    .append("\"} ")
                    .append(cumulative)
                    .append('\n');
        }
        b.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
        b.append(name).append("_sum ").append(fmt(sum.sum())).append('\n');
        b.append(name).append("_count ").append(count.sum()).append('\n');
    }

    static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%s", v);
    }
}
