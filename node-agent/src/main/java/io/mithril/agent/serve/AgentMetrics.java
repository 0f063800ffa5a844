package io.mithril.agent.serve;

import io.mithril.agent.diagnosis.Outcome;
import io.mithril.agent.index.EvictionCause;
import io.mithril.agent.ingest.IngestReport;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.remote.RemoteGc;
import io.mithril.agent.remote.RemoteStats;
import io.mithril.agent.store.StoreConfig;
import io.mithril.agent.store.StoreStats;
import io.mithril.agent.volume.View;
import java.time.Instant;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The agent's metrics in the Prometheus text format (version 0.0.4). Store figures are read at
 * scrape time; view and ingest events are recorded by whoever publishes and ingests.
 */
public final class AgentMetrics {

    private final Histogram publish = new Histogram("mithril_publish_duration_seconds", "Time to publish a view.");
    private final Histogram ingest =
            new Histogram("mithril_ingest_duration_seconds", "Time of one ingest pass over a view.");
    private final LongAdder entriesRead = new LongAdder();
    private final LongAdder entriesIngested = new LongAdder();
    private final LongAdder bytesIngested = new LongAdder();
    private final Map<String, LongAdder> refused = new ConcurrentHashMap<>();
    /** Requests of {@code exec} clients to this agent (a standalone serve), by how each ended. */
    private final Map<ExecRequest, LongAdder> execRequests = new ConcurrentHashMap<>();

    private final Map<GroupId, GroupCounts> groups = new ConcurrentHashMap<>();
    private final LongAdder remoteFetchedBytes = new LongAdder();
    private final LongAdder remoteUploadedBytes = new LongAdder();
    private final LongAdder remoteRejectedBlobs = new LongAdder();
    /** Remote retention passes of this agent: ran (it held the Lease), skipped (another did), failed. */
    private final LongAdder retentionRan = new LongAdder();

    private final LongAdder retentionSkipped = new LongAdder();
    private final LongAdder retentionFailed = new LongAdder();
    private final LongAdder retentionEvicted = new LongAdder();
    private final LongAdder retentionDeletedBytes = new LongAdder();
    /** What the last retention pass this agent ran found each budget (a CompileCache) holding remotely; null: none ran. */
    private volatile RemoteHeld remoteHeld;
    /** Set when the agent has a remote: its manifests that failed authentication, and the upload queue's length. */
    private volatile LongSupplier remoteRejectedManifests;

    private volatile LongSupplier remoteQueueDepth;
    /** Entries the upload queue dropped because it was full; set with a remote. */
    private volatile LongSupplier remoteQueueDropped = () -> 0;

    private volatile RemoteStats remoteStats;
    private final Histogram remoteFill = new Histogram(
            "mithril_remote_fill_duration_seconds",
            "Time to fill a group from the remote tier before a pod's view was published.");

    /**
     * A group's cache activity since this agent started: entries its workloads read from views
     * (hits) and entries taken from them (misses: compiled because they were not there).
     */
    public static final class GroupCounts {
        final LongAdder hits = new LongAdder();
        final LongAdder misses = new LongAdder();
        /** Workload runs by {@link Outcome} (why a run was warm or not). */
        final Map<Outcome, LongAdder> runs = new ConcurrentHashMap<>();
        /** The remote tier: entries and bytes fetched for this group, entries and bytes uploaded. */
        final LongAdder remoteFetched = new LongAdder();

        final LongAdder remoteFetchedBytes = new LongAdder();
        final LongAdder remoteUploaded = new LongAdder();
        final LongAdder remoteUploadedBytes = new LongAdder();

        public long remoteFetched() {
            return remoteFetched.sum();
        }

        public long remoteFetchedBytes() {
            return remoteFetchedBytes.sum();
        }

        public long remoteUploaded() {
            return remoteUploaded.sum();
        }

        public long remoteUploadedBytes() {
            return remoteUploadedBytes.sum();
        }

        /** Runs by outcome, those that happened only, in {@link Outcome} order. */
        public Map<Outcome, Long> runs() {
            Map<Outcome, Long> out = new EnumMap<>(Outcome.class);
            runs.forEach((o, n) -> out.put(o, n.sum()));
            return out;
        }

        public long hits() {
            return hits.sum();
        }

        public long misses() {
            return misses.sum();
        }
    }

    /** Records a view's outcome for its group: entries read (hits) and entries ingested (misses). */
    public void groupActivity(GroupId g, int read, int ingested) {
        GroupCounts c = groups.computeIfAbsent(g, k -> new GroupCounts());
        c.hits.add(read);
        c.misses.add(ingested);
    }

    /**
     * A fill from the remote tier brought {@code entries} entries ({@code bytes} bytes) of {@code g} in,
     * in {@code nanos}; {@code rejected} blobs failed verification.
     */
    public void remoteFetched(GroupId g, int entries, long bytes, int rejected, long nanos) {
        remoteFill.observeNanos(nanos);
        GroupCounts c = groups.computeIfAbsent(g, k -> new GroupCounts());
        c.remoteFetched.add(entries);
        c.remoteFetchedBytes.add(bytes);
        remoteFetchedBytes.add(bytes);
        remoteRejectedBlobs.add(rejected);
    }

    /** {@code entries} entries of {@code g} went up to the remote tier, {@code bytes} bytes of new blobs and packs. */
    public void remoteUploaded(GroupId g, int entries, long bytes) {
        GroupCounts c = groups.computeIfAbsent(g, k -> new GroupCounts());
        c.remoteUploaded.add(entries);
        c.remoteUploadedBytes.add(bytes);
        remoteUploadedBytes.add(bytes);
    }

    /** The remote tier's holdings per budget key ({@code namespace/name}) as of a retention pass at {@code at}. */
    public record RemoteHeld(Instant at, Map<String, RemoteGc.Held> byCache) {}

    /** The holdings the last retention pass this agent ran found; null when it ran none. */
    public RemoteHeld remoteHeld() {
        return remoteHeld;
    }

    /** A remote retention pass that ended at {@code at}: what it did, or null when it failed. */
    public void remoteRetention(RemoteGc.Report r, Instant at) {
        if (r != null && r.ran()) {
            remoteHeld = new RemoteHeld(at, Map.copyOf(r.held()));
        }
        remoteRetention(r);
    }

    /** A remote retention pass: what it did, or null when it failed. */
    public void remoteRetention(RemoteGc.Report r) {
        if (r == null) {
            retentionFailed.increment();
        } else if (!r.ran()) {
            retentionSkipped.increment();
        } else {
            retentionRan.increment();
            retentionEvicted.add(r.entriesEvicted());
            retentionDeletedBytes.add(r.bytesDeleted());
        }
    }

    /** Where the entries the upload queue dropped (full, oldest first) are counted. */
    public void remoteQueueDropped(LongSupplier dropped) {
        this.remoteQueueDropped = dropped;
    }

    /** The agent has a remote: its figures are rendered, these read at scrape time. */
    public void remote(LongSupplier rejectedManifests, LongSupplier queueDepth, RemoteStats stats) {
        this.remoteRejectedManifests = rejectedManifests;
        this.remoteQueueDepth = queueDepth;
        this.remoteStats = stats;
    }

    /** Counts {@code n} workload runs of a group that ended with {@code outcome}. */
    public void groupOutcome(GroupId g, Outcome outcome, long n) {
        groups.computeIfAbsent(g, k -> new GroupCounts())
                .runs
                .computeIfAbsent(outcome, k -> new LongAdder())
                .add(n);
    }

    /** Every group with activity, with its counts (a snapshot). */
    public Map<GroupId, long[]> groupActivity() {
        Map<GroupId, long[]> out = new HashMap<>();
        groups.forEach((g, c) -> out.put(g, new long[] {c.hits(), c.misses()}));
        return out;
    }

    public GroupCounts groupCounts(GroupId g) {
        GroupCounts c = groups.get(g);
        return c == null ? new GroupCounts() : c;
    }

    public void published(View v) {
        publish.observeNanos(v.publishNanos());
    }

    public void ingested(IngestReport r) {
        ingest.observeNanos(r.nanos());
        entriesIngested.add(r.entries());
        bytesIngested.add(r.bytes());
        r.refused()
                .forEach((why, n) ->
                        refused.computeIfAbsent(why, k -> new LongAdder()).add(n));
    }

    /** How an {@code exec} client's request to this agent ended. */
    public enum ExecRequest {
        /** The agent prepared the run and the command ran in the client. */
        SERVED,
        /** Left to the client (another root, budget, a remote, help, a bad line): it ran exec itself. */
        DECLINED,
        /** exec failed before the command ran (bad input, the store): the client reported it. */
        FAILED,
        /** The client went away during its run (killed), or the agent stopped under it. */
        GONE
    }

    public void execRequest(ExecRequest how) {
        execRequests.computeIfAbsent(how, k -> new LongAdder()).increment();
    }

    public void entriesRead(int n) {
        entriesRead.add(n);
    }

    public String render(StoreStats s) {
        StringBuilder b = new StringBuilder(4096);
        gauge(b, "mithril_store_bytes", "Bytes of blobs held by committed entries.", s.bytes());
        gauge(b, "mithril_store_reserved_bytes", "Bytes reserved by writes in flight.", s.reservedBytes());
        gauge(b, "mithril_store_entries", "Committed entries.", s.entries());
        gauge(b, "mithril_store_blobs", "Distinct blobs.", s.blobs());
        gauge(
                b,
                "mithril_store_index_heap_bytes",
                "Heap the store's index holds, by its estimate (its memory ceiling compares this).",
                s.indexHeapBytes());
        gauge(
                b,
                "mithril_store_index_mapped_bytes",
                "Memory the store's index maps from the store's disk (file cache, reclaimable).",
                s.indexMappedBytes());
        if (s.hardLimit() < StoreConfig.UNLIMITED) {
            gauge(b, "mithril_store_hard_limit_bytes", "Hard size limit.", s.hardLimit());
            gauge(b, "mithril_store_soft_limit_bytes", "Soft size limit (background eviction target).", s.softLimit());
        }
        counter(b, "mithril_lookup_hits_total", "Entry lookups that found the entry.", s.hits());
        counter(b, "mithril_lookup_misses_total", "Entry lookups that found nothing.", s.misses());
        counter(b, "mithril_entries_read_total", "Published entries a workload read (cache hits).", entriesRead.sum());
        counter(
                b,
                "mithril_entries_ingested_total",
                "Entries taken from workloads (cache misses filled).",
                entriesIngested.sum());
        counter(b, "mithril_ingested_bytes_total", "Bytes taken from workloads.", bytesIngested.sum());
        b.append("# HELP mithril_evictions_total Entries removed from the store, by cause.\n");
        b.append("# TYPE mithril_evictions_total counter\n");
        for (Map.Entry<EvictionCause, Long> e : s.evictions().entrySet()) {
            b.append("mithril_evictions_total{cause=\"")
                    .append(e.getKey().name().toLowerCase(Locale.ROOT))
                    .append("\"} ")
                    .append(e.getValue())
                    .append('\n');
        }
        b.append("# HELP mithril_exec_requests_total Requests of exec clients to this agent, by how they ended.\n");
        b.append("# TYPE mithril_exec_requests_total counter\n");
        for (ExecRequest how : ExecRequest.values()) {
            LongAdder n = execRequests.get(how);
            b.append("mithril_exec_requests_total{outcome=\"")
                    .append(how.name().toLowerCase(Locale.ROOT))
                    .append("\"} ")
                    .append(n == null ? 0 : n.sum())
                    .append('\n');
        }
        b.append("# HELP mithril_ingest_refused_total Files refused by ingest, by reason.\n");
        b.append("# TYPE mithril_ingest_refused_total counter\n");
        refused.forEach((why, n) -> b.append("mithril_ingest_refused_total{reason=\"")
                .append(why.replace(' ', '_'))
                .append("\"} ")
                .append(n.sum())
                .append('\n'));
        b.append("# HELP mithril_group_bytes Logical bytes of a group's entries.\n");
        b.append("# TYPE mithril_group_bytes gauge\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_bytes{")
                    .append(labels(g))
                    .append("} ")
                    .append(g.bytes())
                    .append('\n');
        }
        b.append("# HELP mithril_group_entries Entries of a group.\n");
        b.append("# TYPE mithril_group_entries gauge\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_entries{")
                    .append(labels(g))
                    .append("} ")
                    .append(g.entries())
                    .append('\n');
        }
        b.append("# HELP mithril_group_hits_total Entries of a group read by workloads from their views.\n");
        b.append("# TYPE mithril_group_hits_total counter\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_hits_total{")
                    .append(labels(g))
                    .append("} ")
                    .append(groupCounts(g.group()).hits())
                    .append('\n');
        }
        b.append("# HELP mithril_group_misses_total Entries of a group compiled by workloads and ingested.\n");
        b.append("# TYPE mithril_group_misses_total counter\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_misses_total{")
                    .append(labels(g))
                    .append("} ")
                    .append(groupCounts(g.group()).misses())
                    .append('\n');
        }
        b.append(
                "# HELP mithril_group_runs_total Workload runs of a group, by outcome (docs/troubleshooting.md, Why did I miss?).\n");
        b.append("# TYPE mithril_group_runs_total counter\n");
        for (StoreStats.Group g : s.groups()) {
            groupCounts(g.group())
                    .runs()
                    .forEach((o, n) -> b.append("mithril_group_runs_total{")
                            .append(labels(g))
                            .append(",outcome=\"")
                            .append(o.key())
                            .append("\"} ")
                            .append(n)
                            .append('\n'));
        }
        renderRemote(b, s);
        publish.write(b);
        ingest.write(b);
        return b.toString();
    }

    private void renderRemote(StringBuilder b, StoreStats s) {
        LongSupplier manifests = remoteRejectedManifests;
        LongSupplier depth = remoteQueueDepth;
        if (manifests == null || depth == null) {
            return; // no remote
        }
        counter(
                b,
                "mithril_remote_fetched_bytes_total",
                "Bytes fetched from the remote tier (verified).",
                remoteFetchedBytes.sum());
        counter(
                b,
                "mithril_remote_uploaded_bytes_total",
                "Bytes uploaded to the remote tier.",
                remoteUploadedBytes.sum());
        counter(
                b,
                "mithril_remote_rejected_blobs_total",
                "Blobs from the remote whose bytes did not match their address (dropped).",
                remoteRejectedBlobs.sum());
        counter(
                b,
                "mithril_remote_rejected_manifests_total",
                "Remote manifests that failed authentication or did not parse (ignored).",
                manifests.getAsLong());
        gauge(
                b,
                "mithril_remote_upload_queue_entries",
                "Entries queued for upload to the remote tier.",
                depth.getAsLong());
        counter(
                b,
                "mithril_remote_upload_queue_dropped_total",
                "Entries dropped from a full upload queue, oldest first (they stay local, never uploaded).",
                remoteQueueDropped.getAsLong());
        RemoteStats rs = remoteStats;
        if (rs != null) {
            counter(
                    b,
                    "mithril_remote_rejected_frames_total",
                    "Compressed blobs from the remote that did not inflate to their size (cut, corrupt, or over the limit; dropped).",
                    rs.rejectedFrames());
            gauge(
                    b,
                    "mithril_remote_puts_in_flight_peak",
                    "The most PUTs to the remote in flight at once since the agent started (bounded by the upload concurrency).",
                    rs.putsPeak());
            b.append("# HELP mithril_remote_requests_total Requests to the remote tier by operation and result "
                    + "(refused: not sent, the circuit being open).\n");
            b.append("# TYPE mithril_remote_requests_total counter\n");
            for (RemoteStats.Operation op : RemoteStats.Operation.values()) {
                for (RemoteStats.Result r : RemoteStats.Result.values()) {
                    b.append("mithril_remote_requests_total{operation=\"")
                            .append(op.name().toLowerCase(Locale.ROOT))
                            .append("\",result=\"")
                            .append(r.name().toLowerCase(Locale.ROOT))
                            .append("\"} ")
                            .append(rs.requests(op, r))
                            .append('\n');
                }
            }
            RemoteStats.Circuit now = rs.circuit();
            b.append("# HELP mithril_remote_circuit_state The remote's circuit breaker: 1 for its current state.\n");
            b.append("# TYPE mithril_remote_circuit_state gauge\n");
            for (RemoteStats.Circuit c : RemoteStats.Circuit.values()) {
                b.append("mithril_remote_circuit_state{state=\"")
                        .append(c.name().toLowerCase(Locale.ROOT))
                        .append("\"} ")
                        .append(c == now ? 1 : 0)
                        .append('\n');
            }
            counter(
                    b,
                    "mithril_remote_circuit_opened_total",
                    "Times the remote's circuit breaker opened.",
                    rs.circuitOpened());
        }
        b.append("# HELP mithril_remote_retention_passes_total Remote retention passes this agent tried, by result "
                + "(ran: it held the lock; skipped: another agent did; failed).\n");
        b.append("# TYPE mithril_remote_retention_passes_total counter\n");
        b.append("mithril_remote_retention_passes_total{result=\"ran\"} ")
                .append(retentionRan.sum())
                .append('\n');
        b.append("mithril_remote_retention_passes_total{result=\"skipped\"} ")
                .append(retentionSkipped.sum())
                .append('\n');
        b.append("mithril_remote_retention_passes_total{result=\"failed\"} ")
                .append(retentionFailed.sum())
                .append('\n');
        counter(
                b,
                "mithril_remote_retention_evicted_entries_total",
                "Entries remote retention run by this agent removed from the remote tier's manifests.",
                retentionEvicted.sum());
        counter(
                b,
                "mithril_remote_retention_deleted_bytes_total",
                "Bytes of unnamed blobs and packs remote retention run by this agent deleted.",
                retentionDeletedBytes.sum());
        remoteFill.write(b);
        b.append(
                "# HELP mithril_group_remote_fetched_total Entries of a group fetched from the remote tier (remote hits).\n");
        b.append("# TYPE mithril_group_remote_fetched_total counter\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_remote_fetched_total{")
                    .append(labels(g))
                    .append("} ")
                    .append(groupCounts(g.group()).remoteFetched())
                    .append('\n');
        }
        b.append("# HELP mithril_group_remote_uploaded_total Entries of a group uploaded to the remote tier.\n");
        b.append("# TYPE mithril_group_remote_uploaded_total counter\n");
        for (StoreStats.Group g : s.groups()) {
            b.append("mithril_group_remote_uploaded_total{")
                    .append(labels(g))
                    .append("} ")
                    .append(groupCounts(g.group()).remoteUploaded())
                    .append('\n');
        }
    }

    private static String labels(StoreStats.Group g) {
        return "namespace=\"" + g.group().namespace() + "\",cache=\""
                + g.group().cache() + "\",device=\"" + g.group().device().text() + "\",product=\""
                + g.group().product().slug() + "\"";
    }

    private static void gauge(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ")
                .append(name)
                .append(" gauge\n")
                .append(name)
                .append(' ')
                .append(v)
                .append('\n');
    }

    private static void counter(StringBuilder b, String name, String help, long v) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ")
                .append(name)
                .append(" counter\n")
                .append(name)
                .append(' ')
                .append(v)
                .append('\n');
    }
}
