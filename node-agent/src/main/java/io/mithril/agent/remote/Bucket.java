package io.mithril.agent.remote;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
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
 * or false, not an exception.
 */
final class Bucket implements AutoCloseable {
    private final S3Client s3;
    private final String bucket;
    private final AtomicLong requests = new AtomicLong();

    /** A failure of the remote (unreachable, refused, timed out, throttled): the local path goes on without it. */
    static final class RemoteException extends IOException {
        RemoteException(String what, Throwable cause) {
            super(what + ": " + oneLine(cause), cause);
        }
    }

    Bucket(RemoteConfig c) {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(c.connectTimeout())
                        .socketTimeout(c.requestTimeout()))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(c.requestTimeout())
                        .apiCallTimeout(c.requestTimeout().multipliedBy(Math.max(1, c.maxAttempts())).plusSeconds(1))
                        .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                                .maxAttempts(Math.max(1, c.maxAttempts()))
                                // full jitter: many nodes retrying together spread out
                                .backoffStrategy(BackoffStrategy.exponentialDelay(Duration.ofMillis(100), Duration.ofSeconds(2)))
                                .build())
                        .build())
                .credentialsProvider(c.credentials() != null ? c.credentials() : DefaultCredentialsProvider.builder().build())
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

    /** A stream of the object's bytes (of {@code range}, "bytes=A-B", when given), or null when there is none. */
    ResponseInputStream<GetObjectResponse> open(String key, String range) throws IOException {
        requests.incrementAndGet();
        try {
            return s3.getObject(r -> r.bucket(bucket).key(key).range(range));
        } catch (NoSuchKeyException absent) {
            return null;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return null;
            }
            throw new RemoteException("GET " + key, e);
        } catch (SdkException e) {
            throw new RemoteException("GET " + key, e);
        }
    }

    boolean exists(String key) throws IOException {
        requests.incrementAndGet();
        try {
            s3.headObject(r -> r.bucket(bucket).key(key));
            return true;
        } catch (NoSuchKeyException absent) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return false;
            }
            throw new RemoteException("HEAD " + key, e);
        } catch (SdkException e) {
            throw new RemoteException("HEAD " + key, e);
        }
    }

    /**
     * Writes the object unless one of that key exists ({@code If-None-Match: *}): keys are content
     * addresses, so one that exists holds these bytes (a reader verifies them either way). Returns
     * false when it existed.
     */
    boolean putIfAbsent(String key, byte[] bytes) throws IOException {
        return putIfAbsent(key, RequestBody.fromBytes(bytes));
    }

    /** As {@link #putIfAbsent(String, byte[])}, the bytes opened anew for each attempt. */
    boolean putIfAbsent(String key, Opener opener, long length) throws IOException {
        return putIfAbsent(key, RequestBody.fromContentProvider(() -> {
            try {
                return opener.open();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, length, "application/octet-stream"));
    }

    private boolean putIfAbsent(String key, RequestBody body) throws IOException {
        requests.incrementAndGet();
        try {
            s3.putObject(r -> r.bucket(bucket).key(key).ifNoneMatch("*"), body);
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                return false; // there already (409: a concurrent conditional write of the same key)
            }
            throw new RemoteException("PUT " + key, e);
        } catch (SdkException | UncheckedIOException e) {
            throw new RemoteException("PUT " + key, e);
        }
    }

    /** Every key under {@code prefix}. */
    List<String> list(String prefix) throws IOException {
        List<String> keys = new ArrayList<>();
        String token = null;
        try {
            do {
                requests.incrementAndGet();
                ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix);
                if (token != null) {
                    req.continuationToken(token);
                }
                ListObjectsV2Response page = s3.listObjectsV2(req.build());
                for (S3Object o : page.contents()) {
                    keys.add(o.key());
                }
                token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
            } while (token != null);
        } catch (SdkException e) {
            throw new RemoteException("LIST " + prefix, e);
        }
        return keys;
    }

    long requests() {
        return requests.get();
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

    static String oneLine(Throwable e) {
        String m = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        int nl = m.indexOf('\n');
        return nl >= 0 ? m.substring(0, nl) : m;
    }
}
