package io.mithril.agent.remote;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Consumer;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * Where the remote tier is and how to talk to it. {@code prefix} is empty or ends in '/';
 * {@code endpoint} null means AWS S3 itself; {@code region} null means the SDK's default chain (then
 * us-east-1); {@code credentials} null means the SDK's default chain. {@code key}: the shared manifest
 * key (HMAC-SHA256). {@code checksumsWhenRequired}: send and check the SDK's checksums only where the
 * S3 API requires them (some S3-compatible stores reject the default trailing checksums). {@code limits}:
 * the circuit breaker's and the uploads' bounds.
 */
public record RemoteConfig(
        String bucket,
        String prefix,
        URI endpoint,
        String region,
        AwsCredentialsProvider credentials,
        byte[] key,
        Duration connectTimeout,
        Duration requestTimeout,
        int maxAttempts,
        boolean checksumsWhenRequired,
        Limits limits) {

    /**
     * {@code breakerFailures} consecutive failed calls open the circuit for {@code breakerCoolDown} (plus
     * up to half of it as jitter); {@code uploadBytesPerSecond}: the upload bandwidth (0: unlimited);
     * {@code uploadConcurrency}: PUTs in flight at once (in the process, and within one upload pass);
     * {@code inflateLimit}: the most bytes one compressed blob may inflate to (a manifest giving a
     * compressed blob more is not believed for that blob).
     */
    public record Limits(
            int breakerFailures,
            Duration breakerCoolDown,
            long uploadBytesPerSecond,
            int uploadConcurrency,
            long inflateLimit) {
        public static final Limits DEFAULTS = new Limits(5, Duration.ofSeconds(30), 0, 4, 64L << 20);

        public Limits {
            if (breakerFailures < 1
                    || breakerCoolDown == null
                    || breakerCoolDown.isNegative()
                    || uploadBytesPerSecond < 0
                    || uploadConcurrency < 1
                    || inflateLimit < 0
                    || inflateLimit > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("remote limits out of range: failures " + breakerFailures
                        + ", cool-down " + breakerCoolDown + ", " + uploadBytesPerSecond + " B/s, concurrency "
                        + uploadConcurrency + ", inflate limit " + inflateLimit);
            }
        }

        public Limits withBreaker(int failures, Duration coolDown) {
            return new Limits(failures, coolDown, uploadBytesPerSecond, uploadConcurrency, inflateLimit);
        }

        public Limits withUpload(long bytesPerSecond, int concurrency) {
            return new Limits(breakerFailures, breakerCoolDown, bytesPerSecond, concurrency, inflateLimit);
        }

        public Limits withInflateLimit(long bytes) {
            return new Limits(breakerFailures, breakerCoolDown, uploadBytesPerSecond, uploadConcurrency, bytes);
        }
    }

    /** The least key length accepted, in bytes. */
    static final int MIN_KEY_BYTES = 16;

    public RemoteConfig {
        if (bucket == null || bucket.isEmpty()) {
            throw new IllegalArgumentException("remote needs a bucket");
        }
        prefix = prefix == null ? "" : prefix.replaceAll("^/+", "");
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix = prefix + "/";
        }
        if (key == null || key.length < MIN_KEY_BYTES) {
            throw new IllegalArgumentException(
                    "the remote's manifest key must have at least " + MIN_KEY_BYTES + " bytes");
        }
        key = key.clone();
        limits = limits == null ? Limits.DEFAULTS : limits;
    }

    /** {@code s3://BUCKET/PREFIX}, with the defaults for everything else. */
    public static RemoteConfig of(String s3Url, URI endpoint, byte[] key) {
        URI u = URI.create(s3Url);
        if (!"s3".equals(u.getScheme()) || u.getHost() == null) {
            throw new IllegalArgumentException("remote must be s3://BUCKET/PREFIX: " + s3Url);
        }
        return new RemoteConfig(
                u.getHost(),
                u.getPath(),
                endpoint,
                null,
                null,
                key,
                Duration.ofSeconds(2),
                Duration.ofSeconds(10),
                3,
                false,
                Limits.DEFAULTS);
    }

    /** Reads a key file: its bytes, trailing whitespace left off (so a key written by {@code echo} works). */
    public static byte[] readKey(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        int n = b.length;
        while (n > 0 && Character.isWhitespace(b[n - 1])) {
            n--;
        }
        return Arrays.copyOf(b, n);
    }

    public RemoteConfig withCredentials(AwsCredentialsProvider c) {
        return with(x -> x.credentials = c);
    }

    public RemoteConfig withRegion(String r) {
        return with(x -> x.region = r);
    }

    public RemoteConfig withTimeouts(Duration connect, Duration request, int attempts) {
        return with(x -> {
            x.connectTimeout = connect;
            x.requestTimeout = request;
            x.maxAttempts = attempts;
        });
    }

    public RemoteConfig withChecksumsWhenRequired(boolean w) {
        return with(x -> x.checksumsWhenRequired = w);
    }

    public RemoteConfig withLimits(Limits l) {
        return with(x -> x.limits = l);
    }

    /** The settings a {@code with…} may change, copied from a config to be changed and built again. */
    private static final class Settings {
        String region;
        AwsCredentialsProvider credentials;
        Duration connectTimeout;
        Duration requestTimeout;
        int maxAttempts;
        boolean checksumsWhenRequired;
        Limits limits;

        Settings(RemoteConfig c) {
            region = c.region;
            credentials = c.credentials;
            connectTimeout = c.connectTimeout;
            requestTimeout = c.requestTimeout;
            maxAttempts = c.maxAttempts;
            checksumsWhenRequired = c.checksumsWhenRequired;
            limits = c.limits;
        }
    }

    private RemoteConfig with(Consumer<Settings> change) {
        Settings x = new Settings(this);
        change.accept(x);
        return new RemoteConfig(
                bucket,
                prefix,
                endpoint,
                x.region,
                x.credentials,
                key,
                x.connectTimeout,
                x.requestTimeout,
                x.maxAttempts,
                x.checksumsWhenRequired,
                x.limits);
    }

    /** {@code s3://bucket/prefix}, for logs. */
    public String describe() {
        return "s3://" + bucket + "/" + prefix;
    }

    @Override
    public String toString() {
        return describe() + (endpoint != null ? " at " + endpoint : "") + " (key " + key.length + " B)";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RemoteConfig r
                && r.describe().equals(describe())
                && Arrays.equals(r.key, key)
                && String.valueOf(r.endpoint).equals(String.valueOf(endpoint));
    }

    @Override
    public int hashCode() {
        return describe().hashCode();
    }
}
