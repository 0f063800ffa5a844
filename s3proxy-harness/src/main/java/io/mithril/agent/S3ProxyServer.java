package io.mithril.agent;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A real S3-compatible server for tests: S3Proxy 4.0.0 (filesystem backend, SigV4) in a JVM of its
 * own, from the classpath the {@code s3proxy-harness} module wrote (its jars are never on the
 * agent's nor the tests'). Used by node-agent's and e2e's tests. One port and one data folder for its life: {@link #kill} and {@link #start} again keep
 * both, so a restarted server holds what the killed one held.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String ACCESS_KEY = "mithril-test";
    public static final String SECRET_KEY = "mithril-test-secret";
    public static final String REGION = "us-east-1";
    /** The test credentials as the SDK's default chain reads them from an agent process's environment. */
    public static final Map<String, String> CREDENTIALS_ENV =
            Map.of("AWS_ACCESS_KEY_ID", ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", SECRET_KEY, "AWS_REGION", REGION);

    private final Path dir;
    private final Path data;
    private final String bucket;
    private final int port;
    private Process process;

    private S3ProxyServer(Path dir, String bucket) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.data = Files.createDirectories(dir.resolve("data"));
        this.bucket = bucket;
        try (ServerSocket s = new ServerSocket(0)) {
            this.port = s.getLocalPort();
        }
    }

    /** Starts a server keeping its objects under {@code dir}, with {@code bucket} created. */
    public static S3ProxyServer start(Path dir, String bucket) throws Exception {
        S3ProxyServer s = new S3ProxyServer(dir, bucket);
        s.start();
        try (S3Client c = s.client()) {
            c.createBucket(b -> b.bucket(bucket));
        }
        return s;
    }

    /** Starts it again (after {@link #kill} or {@link #stop}) on the same port and data. */
    public void start() throws Exception {
        if (process != null && process.isAlive()) {
            return;
        }
        Path props = dir.resolve("s3proxy.properties");
        Files.writeString(
                props,
                String.join(
                        "\n",
                        "s3proxy.endpoint=http://127.0.0.1:" + port,
                        "s3proxy.authorization=aws-v2-or-v4",
                        "s3proxy.identity=" + ACCESS_KEY,
                        "s3proxy.credential=" + SECRET_KEY,
                        // real S3 takes x-amz-security-token (session credentials: IRSA, STS); S3Proxy refuses
                        // headers it does not know unless told to ignore them
                        "s3proxy.ignore-unknown-headers=true",
                        "jclouds.provider=filesystem",
                        "jclouds.filesystem.basedir=" + data,
                        ""));
        Path logback = dir.resolve("logback.xml");
        Files.writeString(
                logback,
                "<configuration><appender name=\"F\" class=\"ch.qos.logback.core.FileAppender\"><file>"
                        + dir.resolve("s3proxy.log")
                        + "</file><encoder><pattern>%d %level %logger{20} %msg%n</pattern></encoder>"
                        + "</appender><root level=\"WARN\"><appender-ref ref=\"F\"/></root></configuration>\n");
        process = new ProcessBuilder(List.of(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-XX:+UseSerialGC",
                        "-XX:TieredStopAtLevel=1",
                        "-Xmx256m",
                        "-Dlogback.configurationFile=" + logback,
                        "-cp",
                        classpath(),
                        "org.gaul.s3proxy.Main",
                        "--properties",
                        props.toString()))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("s3proxy.out").toFile())
                .start();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            if (!process.isAlive()) {
                throw new IllegalStateException(
                        "S3Proxy exited at start: " + Files.readString(dir.resolve("s3proxy.out")));
            }
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                if (System.nanoTime() > until) {
                    throw new IllegalStateException("S3Proxy did not listen on " + port + " in 60 s");
                }
                Thread.sleep(50);
            }
        }
    }

    /** SIGKILL: the server vanishes mid-whatever, as a crashed or partitioned one does. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    public void stop() throws InterruptedException {
        if (process != null) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                kill();
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public String bucket() {
        return bucket;
    }

    /** Where the filesystem backend keeps an object's bytes: tests corrupt objects there. */
    public Path objectFile(String key) {
        return data.resolve(bucket).resolve(key);
    }

    /** A client with the test credentials, for tests that look at or tamper with the bucket. */
    public S3Client client() {
        return S3Client.builder()
                .endpointOverride(endpoint())
                .forcePathStyle(true)
                .region(Region.of(REGION))
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .httpClientBuilder(UrlConnectionHttpClient.builder().connectionTimeout(Duration.ofSeconds(2)))
                .build();
    }

    /** The environment an agent process needs to reach this server through the SDK's default chain. */
    public Map<String, String> credentialsEnv() {
        return CREDENTIALS_ENV;
    }

    /**
     * S3Proxy's classpath: the file {@code -Dmithril.s3proxy.classpath} names, else the one this
     * module's build wrote beside its classes or jar ({@code s3proxy-harness/target}), whichever
     * module's tests run and from whatever working directory.
     */
    private static String classpath() throws IOException, URISyntaxException {
        String file = System.getProperty("mithril.s3proxy.classpath");
        Path p = file != null
                ? Path.of(file)
                : Path.of(S3ProxyServer.class
                                .getProtectionDomain()
                                .getCodeSource()
                                .getLocation()
                                .toURI())
                        .resolveSibling("s3proxy.classpath");
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException(
                    "no S3Proxy classpath at " + p + ": build the s3proxy-harness module first (in the same reactor)");
        }
        return Files.readString(p).trim();
    }
}
