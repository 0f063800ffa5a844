package io.mithril.operator.certs;

import java.io.IOException;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * Where the webhook's serving certificate comes from: the operator's own CA kept in a Secret
 * ({@link CertificateManager}) or files mounted from a Secret that cert-manager keeps ({@link FileTlsSource}).
 */
public interface TlsSource extends AutoCloseable {

    /** The current material, made or repaired first where this source owns it. */
    TlsMaterial load() throws IOException, GeneralSecurityException;

    /**
     * Checks again every {@code period} and calls {@code onChange} (on the scheduler's thread) with material
     * that differs from what was last loaded. Failures are logged and retried; the checks stop when the
     * scheduler is shut down.
     */
    void watch(ScheduledExecutorService scheduler, Duration period, Consumer<TlsMaterial> onChange);

    /** Stops what {@link #watch} started beyond the scheduler's tasks. */
    @Override
    default void close() {}
}
