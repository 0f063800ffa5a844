package io.mithril.agent.remote;

import io.mithril.agent.S3ProxyServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** Configurations for tests against an {@link S3ProxyServer}. */
final class RemoteTesting {
    static final byte[] KEY = "mithril-test-manifest-key-0123456789".getBytes(StandardCharsets.UTF_8);

    private static S3ProxyServer shared;

    private RemoteTesting() {}

    /** One server for the remote tests of this JVM, started at first use, killed when the JVM exits. */
    static synchronized S3ProxyServer server() throws Exception {
        if (shared == null) {
            S3ProxyServer s = S3ProxyServer.start(Files.createTempDirectory("s3proxy-"), "mithril");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    s.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            shared = s;
        }
        return shared;
    }

    static RemoteConfig config(S3ProxyServer server, String prefix) {
        return config(server, prefix, KEY);
    }

    static RemoteConfig config(S3ProxyServer server, String prefix, byte[] key) {
        return RemoteConfig.of("s3://" + server.bucket() + "/" + prefix, server.endpoint(), key)
                .withRegion(S3ProxyServer.REGION)
                .withCredentials(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY)))
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(10), 2);
    }
}
