package io.mithril.agent.kube;

import io.mithril.agent.S3ProxyServer;
import io.mithril.agent.remote.Remote;
import io.mithril.agent.remote.RemoteConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/** The Kubernetes-path tests that need a real S3-compatible server: one S3Proxy for the class, remotes on it. */
abstract class AgainstS3 {
    static final byte[] KEY = "mithril-test-manifest-key-0123456789".getBytes(StandardCharsets.UTF_8);
    static S3ProxyServer s3;

    @BeforeAll
    static void startS3() throws Exception {
        s3 = S3ProxyServer.start(Files.createTempDirectory("s3proxy-"), "mithril");
    }

    @AfterAll
    static void stopS3() throws Exception {
        s3.close();
    }

    /** A remote on the server's bucket under {@code prefix/}, with short timeouts. */
    static Remote remote(String prefix) {
        return Remote.open(RemoteConfig.of("s3://" + s3.bucket() + "/" + prefix + "/", s3.endpoint(), KEY)
                .withRegion(S3ProxyServer.REGION)
                .withCredentials(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY)))
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(10), 2));
    }
}
