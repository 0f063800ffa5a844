package io.mithril.api.v1alpha1;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes as text, read the same way by the operator (a CompileCache's {@code spec.budget}) and the node
 * agent (that budget, and its own {@code --budget}, {@code --max-file-size}, free-space reserve).
 *
 * <p>The rule: a Kubernetes quantity, plus the byte-unit spellings people type on a command line.
 * <ul>
 *   <li>a non-negative decimal number ({@code 20}, {@code 1.5}, {@code .5}), optionally followed by an
 *       exponent ({@code 1e3}, {@code 2E6}) or one unit;</li>
 *   <li>binary units {@code Ki Mi Gi Ti Pi Ei} (powers of 1024), also written {@code KiB}, {@code MiB}, ...;</li>
 *   <li>decimal units {@code k M G T P E} (powers of 1000), also {@code K}, {@code kB}, {@code KB},
 *       {@code MB}, ...; and {@code B} or nothing for bytes;</li>
 *   <li>the result is rounded down to whole bytes (as the Kubernetes API reads a memory quantity into
 *       bytes) and must fit in a {@code long}.</li>
 * </ul>
 * Units are case-sensitive: {@code m} is Kubernetes' milli, never mega, so {@code 10m} is refused
 * rather than read as a hundredth of a byte; signs, spaces inside the number and unknown units are refused.
 * Surrounding whitespace is ignored.
 */
public final class Sizes {

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE](\\d{1,3})|([A-Za-z]*))");
    private static final BigDecimal MAX = BigDecimal.valueOf(Long.MAX_VALUE);

    private Sizes() {}

    /** The bytes {@code text} stands for; {@link IllegalArgumentException} saying why when it is not a size. */
    public static long parse(String text) {
        String t = text == null ? "" : text.strip();
        Matcher m = SIZE.matcher(t);
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    "not a size: '" + printable(text) + "' (examples: 1048576, 512Mi, 50Gi, 10G, 1.5GiB)");
        }
        BigDecimal n = new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1));
        BigDecimal bytes;
        if (m.group(2) != null) {
            bytes = n.scaleByPowerOfTen(Integer.parseInt(m.group(2)));
        } else {
            bytes = n.multiply(unit(m.group(3), text));
        }
        if (bytes.compareTo(MAX) > 0) {
            throw new IllegalArgumentException(
                    "size too large: '" + printable(text) + "' (at most " + Long.MAX_VALUE + " bytes)");
        }
        return bytes.setScale(0, RoundingMode.FLOOR).longValueExact();
    }

    /**
     * A budget: a {@link #parse size} of at least one byte. Both the operator (which reports a smaller
     * one as an invalid spec) and the agent (which then applies no per-cache budget) use this rule.
     */
    public static long budget(String text) {
        long b = parse(text);
        if (b < 1) {
            throw new IllegalArgumentException("a budget must be at least one byte: '" + printable(text) + "'");
        }
        return b;
    }

    /**
     * The per-node budget of a CompileCache in bytes: its {@code spec.budget}, or {@link Defaults#BUDGET}
     * when it has none (what the API server fills in from the CRD's default). Throws as {@link #budget}.
     */
    public static long budgetOf(CompileCacheSpec spec) {
        return budget(spec == null || spec.getBudget() == null ? Defaults.BUDGET : spec.getBudget());
    }

    private static BigDecimal unit(String u, String text) {
        return switch (u) {
            case "", "B" -> BigDecimal.ONE;
            case "k", "K", "kB", "KB" -> BigDecimal.TEN.pow(3);
            case "M", "MB" -> BigDecimal.TEN.pow(6);
            case "G", "GB" -> BigDecimal.TEN.pow(9);
            case "T", "TB" -> BigDecimal.TEN.pow(12);
            case "P", "PB" -> BigDecimal.TEN.pow(15);
            case "E", "EB" -> BigDecimal.TEN.pow(18);
            case "Ki", "KiB" -> BigDecimal.valueOf(2).pow(10);
            case "Mi", "MiB" -> BigDecimal.valueOf(2).pow(20);
            case "Gi", "GiB" -> BigDecimal.valueOf(2).pow(30);
            case "Ti", "TiB" -> BigDecimal.valueOf(2).pow(40);
            case "Pi", "PiB" -> BigDecimal.valueOf(2).pow(50);
            case "Ei", "EiB" -> BigDecimal.valueOf(2).pow(60);
            case "m" ->
                throw new IllegalArgumentException(
                        "unknown size unit 'm' in '" + printable(text) + "' (m is milli; for mega use M or Mi)");
            default ->
                throw new IllegalArgumentException("unknown size unit '" + printable(u) + "' in '" + printable(text)
                        + "' (use Ki, Mi, Gi, Ti, Pi, Ei (or KiB, MiB, ...), k, M, G, T, P, E (or KB, MB, ...), or B)");
        };
    }

    private static String printable(String s) {
        if (s == null) {
            return "";
        }
        String p = s.replaceAll("\\p{Cntrl}", "?");
        return p.length() > 64 ? p.substring(0, 64) + "..." : p;
    }
}
