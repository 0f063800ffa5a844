package io.mithril.agent.remote;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A bucket whose listings do not show the manifests written through it yet, as an eventually
 * consistent store (or S3Proxy's filesystem backend in a burst) may list them: the objects are
 * there, a GET finds them, a listing does not.
 */
final class LaggingBucket extends Bucket {
    private final Set<String> unlisted = ConcurrentHashMap.newKeySet();

    LaggingBucket(RemoteConfig c) {
        super(c);
    }

    /** The manifests written through this bucket, which its listings leave out. */
    Set<String> unlisted() {
        return Set.copyOf(unlisted);
    }

    @Override
    boolean putIfAbsent(String key, byte[] bytes) throws IOException {
        boolean put = super.putIfAbsent(key, bytes);
        if (key.contains("/manifests/")) {
            unlisted.add(key);
        }
        return put;
    }

    @Override
    List<Listed> listDetailed(String prefix) throws IOException {
        List<Listed> out = new ArrayList<>();
        for (Listed l : super.listDetailed(prefix)) {
            if (!unlisted.contains(l.key())) {
                out.add(l);
            }
        }
        return out;
    }
}
