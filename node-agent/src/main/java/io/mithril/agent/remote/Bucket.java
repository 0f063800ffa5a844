package io.mithril.agent.remote;

import io.mithril.agent.remote.RemoteStats.Operation;
import io.mithril.agent.remote.RemoteStats.Result;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.retries.api.BackoffStrategy;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * The few S3 operations the remote tier uses, on one bucket, counting requests. Every failure of
 * the remote is an {@link IOException} here ({@link RemoteException}); an absent object is a null
 * or false, not an exception. Not final: a test stands in a store whose listings lag its writes.
 */
class Bucket implements AutoCloseable {
    private final S3Client s3;
    private final String bucket;
    private final CircuitBreaker breaker;
    private final RemoteStats stats;
    private final RateLimiter uploads;
    private final Semaphore puts;

    /** A failure of the remote (unreachable, refused, timed out, throttled): the local path goes on without it. */
    static class RemoteException extends IOException {
        RemoteException(String what, Throwable cause) {
            super(what + ": " + oneLine(cause), cause);
        }

        RemoteException(String what) {
            super(what);
        }
    }

    /** A call not made: the circuit is open (the remote failed often just now). */
    static final class CircuitOpenException extends RemoteException {
        CircuitOpenException(String what) {
            super(what + ": not sent, the remote's circuit is open after repeated failures");
        }
    }

    Bucket(RemoteConfig c) {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(c.connectTimeout())
                        .socketTimeout(c.requestTimeout()))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(c.requestTimeout())
                        .apiCallTimeout(c.requestTimeout()
                                .multipliedBy(Math.max(1, c.maxAttempts()))
                                .plusSeconds(1))
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                                .maxAttempts(Math.max(1, c.maxAttempts()))
                                // full jitter: many nodes retrying together spread out
                                .backoffStrategy(
                                        BackoffStrategy.exponentialDelay(Duration.ofMillis(100), Duration.ofSeconds(2)))
                                .build())
                        .build())
                .credentialsProvider(
                        c.credentials() != null
                                ? c.credentials()
                                : DefaultCredentialsProvider.builder().build())
                .region(Region.of(c.region() != null ? c.region() : defaultRegion()));
        if (c.endpoint() != null) {
            b.endpointOverride(c.endpoint()).forcePathStyle(true);
        }
        if (c.checksumsWhenRequired()) {
            b.requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                    .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        }
        this.s3 = b.build();
        this.bucket = c.bucket();
        this.breaker = new CircuitBreaker(
                c.limits().breakerFailures(), c.limits().breakerCoolDown().toNanos(), System::nanoTime);
        this.stats = new RemoteStats(breaker::state, breaker::timesOpened);
        this.uploads = new RateLimiter(c.limits().uploadBytesPerSecond(), System::nanoTime);
        this.puts = new Semaphore(c.limits().uploadConcurrency());
    }

    private static String defaultRegion() {
        try {
            return new DefaultAwsRegionProviderChain().getRegion().id();
        } catch (SdkException none) {
            return "us-east-1"; // S3-compatible stores mostly take any region; AWS redirects are not followed
        }
    }

    /** The object's bytes, or null when there is none. */
    byte[] get(String key) throws IOException {
        try (InputStream in = open(key, null)) {
            return in == null ? null : in.readAllBytes();
        }
    }

    /**
     * A stream of the object's bytes (of {@code range}, "bytes=A-B", when given), or null when there
     * is none. A failure while reading the body counts against the circuit too.
     */
    InputStream open(String key, String range) throws IOException {
        admit(Operation.GET, key);
        try {
            ResponseInputStream<GetObjectResponse> in =
                    s3.getObject(r -> r.bucket(bucket).key(key).range(range));
            ok(Operation.GET, Result.OK);
            return new Counted(in);
        } catch (NoSuchKeyException absent) {
            ok(Operation.GET, Result.ABSENT);
            return null;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                ok(Operation.GET, Result.ABSENT);
                return null;
            }
            throw failed(Operation.GET, key, e);
        } catch (SdkException e) {
            throw failed(Operation.GET, key, e);
        }
    }

    /** The object's size ({@code HEAD}), or -1 when there is none. */
    long size(String key) throws IOException {
        admit(Operation.HEAD, key);
        try {
            Long n = s3.headObject(r -> r.bucket(bucket).key(key)).contentLength();
            ok(Operation.HEAD, Result.OK);
            return n == null ? 0 : n;
        } catch (NoSuchKeyException absent) {
            ok(Operation.HEAD, Result.ABSENT);
            return -1;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                ok(Operation.HEAD, Result.ABSENT);
                return -1;
            }
            throw failed(Operation.HEAD, key, e);
        } catch (SdkException e) {
            throw failed(Operation.HEAD, key, e);
        }
    }

    /**
     * Writes the object unless one of that key exists ({@code If-None-Match: *}): keys are content
     * addresses, so one that exists holds these bytes (a reader verifies them either way). Returns
     * false when it existed.
     */
    boolean putIfAbsent(String key, byte[] bytes) throws IOException {
        return putIfAbsent(key, () -> new ByteArrayInputStream(bytes), bytes.length);
    }

    /**
     * As {@link #putIfAbsent(String, byte[])}, the bytes opened anew for each attempt; at most the
     * configured number of PUTs at once, their bodies read no faster than the upload bandwidth.
     */
    boolean putIfAbsent(String key, Opener opener, long length) throws IOException {
        return put(key, opener, length, true);
    }

    /** Writes the object whether or not one of that key exists (for a hint that any writer may move on). */
    void overwrite(String key, byte[] bytes) throws IOException {
        put(key, () -> new ByteArrayInputStream(bytes), bytes.length, false);
    }

    private boolean put(String key, Opener opener, long length, boolean ifAbsent) throws IOException {
        RequestBody body = RequestBody.fromContentProvider(
                () -> {
                    try {
                        return new CountedUp(uploads.throttle(opener.open()));
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                },
                length,
                "application/octet-stream");
        try {
            puts.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RemoteException("PUT " + key, e);
        }
        stats.putStarted();
        try {
            admit(Operation.PUT, key);
            if (ifAbsent) {
                s3.putObject(r -> r.bucket(bucket).key(key).ifNoneMatch("*"), body);
            } else {
                s3.putObject(r -> r.bucket(bucket).key(key), body);
            }
            ok(Operation.PUT, Result.OK);
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                ok(Operation.PUT, Result.EXISTS);
                return false; // there already (409: a concurrent conditional write of the same key)
            }
            throw failed(Operation.PUT, key, e);
        } catch (SdkException | UncheckedIOException e) {
            throw failed(Operation.PUT, key, e);
        } finally {
            stats.putEnded();
            puts.release();
        }
    }

    /** Every key under {@code prefix}. */
    List<String> list(String prefix) throws IOException {
        List<String> keys = new ArrayList<>();
        for (Listed o : listDetailed(prefix)) {
            keys.add(o.key());
        }
        return keys;
    }

    /** An object as a listing shows it. */
    record Listed(String key, long size, Instant modified) {}

    /** Every object under {@code prefix}, with its size and time. */
    List<Listed> listDetailed(String prefix) throws IOException {
        List<Listed> out = new ArrayList<>();
        String token = null;
        do {
            admit(Operation.LIST, prefix);
            try {
                ListObjectsV2Request.Builder req =
                        ListObjectsV2Request.builder().bucket(bucket).prefix(prefix);
                if (token != null) {
                    req.continuationToken(token);
                }
                ListObjectsV2Response page = s3.listObjectsV2(req.build());
                ok(Operation.LIST, Result.OK);
                for (S3Object o : page.contents()) {
                    out.add(new Listed(o.key(), o.size() == null ? 0 : o.size(), o.lastModified()));
                }
                token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
            } catch (SdkException e) {
                throw failed(Operation.LIST, prefix, e);
            }
        } while (token != null);
        return out;
    }

    /** Deletes the object (absent is fine). */
    void delete(String key) throws IOException {
        admit(Operation.DELETE, key);
        try {
            s3.deleteObject(r -> r.bucket(bucket).key(key));
            ok(Operation.DELETE, Result.OK);
        } catch (SdkException e) {
            throw failed(Operation.DELETE, key, e);
        }
    }

    /** Requests sent so far (not those the open circuit refused). */
    long requests() {
        return stats.requests();
    }

    RemoteStats stats() {
        return stats;
    }

    /** Refuses the call, with no request and no waiting, while the circuit is open. */
    private void admit(Operation op, String key) throws RemoteException {
        if (!breaker.allow()) {
            stats.request(op, Result.REFUSED);
            throw new CircuitOpenException(op + " " + key);
        }
    }

    private void ok(Operation op, Result r) {
        stats.request(op, r);
        breaker.success();
    }

    private RemoteException failed(Operation op, String key, Throwable e) {
        stats.request(op, Result.ERROR);
        breaker.failure();
        return new RemoteException(op + " " + key, e);
    }

    @Override
    public void close() {
        s3.close();
    }

    /** Opens a local blob's bytes (again, for a retried PUT). */
    @FunctionalInterface
    interface Opener {
        InputStream open() throws IOException;
    }

    /** A GET's body, counting the bytes read and a failure while reading as the remote's. */
    private final class Counted extends FilterInputStream {
        Counted(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int c = guarded(() -> super.read());
            if (c >= 0) {
                stats.down(1);
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = guarded(() -> super.read(b, off, len));
            if (n > 0) {
                stats.down(n);
            }
            return n;
        }

        private int guarded(IoRead r) throws IOException {
            try {
                return r.read();
            } catch (IOException | SdkException e) {
                breaker.failure(); // a stalled or cut body is the remote failing as much as a refused request
                throw e instanceof IOException io ? io : new RemoteException("reading a GET body", e);
            }
        }
    }

    @FunctionalInterface
    private interface IoRead {
        int read() throws IOException;
    }

    /** A PUT's body, counting the bytes sent (a retried attempt's twice, as the network carries them). */
    private final class CountedUp extends FilterInputStream {
        CountedUp(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int c = super.read();
            if (c >= 0) {
                stats.up(1);
            }
            return c;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                stats.up(n);
            }
            return n;
        }
    }

    static String oneLine(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl >= 0 ? m.substring(0, nl) : m;
    }
}
