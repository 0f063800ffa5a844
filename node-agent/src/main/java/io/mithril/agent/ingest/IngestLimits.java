package io.mithril.agent.ingest;

import java.time.Duration;

/**
 * Bounds on what one ingest pass takes from a view written by an untrusted process.
 *
 * @param maxFileBytes  a larger file is refused (framework artifacts are at most tens of MB; the
 *                      largest in the max-autotune fixture is a 36 MB FX graph)
 * @param maxPassBytes  bytes read per pass; the rest waits for the next pass
 * @param maxPassFiles  new or changed units taken per pass (a tree of 100,000 tiny files cannot stall
 *                      the agent; the rest waits for the next pass)
 * @param settle        a file modified more recently than this is still being written: next pass
 * @param maxPassNodes  files and folders looked at (lstat only) per pass, published ones included:
 *                      bounds the walk itself (10^6 empty folders cost a 17 s walk; the max-autotune
 *                      fixture has 8,674 files)
 */
public record IngestLimits(long maxFileBytes, long maxPassBytes, int maxPassFiles, Duration settle, int maxPassNodes) {

    public static IngestLimits defaults() {
        return new IngestLimits(1L << 30, 8L << 30, 50_000, Duration.ofSeconds(2), 250_000);
    }

    public IngestLimits withSettle(Duration d) {
        return new IngestLimits(maxFileBytes, maxPassBytes, maxPassFiles, d, maxPassNodes);
    }

    public IngestLimits withMaxFileBytes(long b) {
        return new IngestLimits(b, maxPassBytes, maxPassFiles, settle, maxPassNodes);
    }

    public IngestLimits withMaxPassFiles(int n) {
        return new IngestLimits(maxFileBytes, maxPassBytes, n, settle, maxPassNodes);
    }

    public IngestLimits withMaxPassNodes(int n) {
        return new IngestLimits(maxFileBytes, maxPassBytes, maxPassFiles, settle, n);
    }
}
