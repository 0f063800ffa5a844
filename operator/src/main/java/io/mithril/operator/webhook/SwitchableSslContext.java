package io.mithril.operator.webhook;

import java.security.KeyManagementException;
import java.security.SecureRandom;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * An {@link SSLContext} whose engines come from a context that can be swapped: a new connection gets the
 * context set last, open connections keep theirs. The JDK's {@code HttpsServer} cannot swap its own:
 * {@code setHttpsConfigurator} throws {@code IllegalStateException} once the server has started.
 */
final class SwitchableSslContext extends SSLContext {

    private final Spi spi;

    private SwitchableSslContext(Spi spi, SSLContext initial) {
        super(spi, initial.getProvider(), initial.getProtocol());
        this.spi = spi;
    }

    static SwitchableSslContext of(SSLContext initial) {
        Spi spi = new Spi();
        spi.delegate = initial;
        return new SwitchableSslContext(spi, initial);
    }

    void set(SSLContext next) {
        spi.delegate = next;
    }

    private static final class Spi extends SSLContextSpi {
        volatile SSLContext delegate;

        @Override
        protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
            throw new KeyManagementException("initialise the delegate, then set it");
        }

        @Override
        protected SSLSocketFactory engineGetSocketFactory() {
            return delegate.getSocketFactory();
        }

        @Override
        protected SSLServerSocketFactory engineGetServerSocketFactory() {
            return delegate.getServerSocketFactory();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine() {
            return delegate.createSSLEngine();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine(String host, int port) {
            return delegate.createSSLEngine(host, port);
        }

        @Override
        protected SSLSessionContext engineGetServerSessionContext() {
            return delegate.getServerSessionContext();
        }

        @Override
        protected SSLSessionContext engineGetClientSessionContext() {
            return delegate.getClientSessionContext();
        }

        @Override
        protected SSLParameters engineGetDefaultSSLParameters() {
            return delegate.getDefaultSSLParameters();
        }

        @Override
        protected SSLParameters engineGetSupportedSSLParameters() {
            return delegate.getSupportedSSLParameters();
        }
    }
}
