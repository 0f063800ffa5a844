package io.mithril.agent.remote;

/**
 * The remote tier on one bucket: its {@link RemoteSource} (what views fill from) and its {@link
 * Uploader}, sharing one S3 client.
 */
public final class Remote implements AutoCloseable {
    private final RemoteConfig config;
    private final RemoteSource source;
    private final Uploader uploader;
    private final RemoteGc gc;

    private Remote(RemoteConfig config) {
        Bucket bucket = new Bucket(config);
        this.config = config;
        this.source = new RemoteSource(bucket, config);
        this.uploader = new Uploader(source, bucket, config, System::nanoTime);
        this.gc = new RemoteGc(bucket, config, System::currentTimeMillis);
    }

    public static Remote open(RemoteConfig config) {
        return new Remote(config);
    }

    public RemoteConfig config() {
        return config;
    }

    public RemoteSource source() {
        return source;
    }

    public Uploader uploader() {
        return uploader;
    }

    /** Remote retention: a pass that {@code serve} or {@code remote gc} runs. */
    public RemoteGc gc() {
        return gc;
    }

    /** The circuit's state and the counters of requests, bytes and rejections, for metrics. */
    public RemoteStats stats() {
        return source.stats();
    }

    @Override
    public void close() {
        source.close();
    }
}
