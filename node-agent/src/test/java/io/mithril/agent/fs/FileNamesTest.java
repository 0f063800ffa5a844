package io.mithril.agent.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Names are bytes: every byte string maps to a name and back unchanged. */
class FileNamesTest {

    @Test
    void decode_validUtf8_isTheUsualString() {
        assertThat(FileNames.decode("inductor/ab/café.py".getBytes(StandardCharsets.UTF_8)))
                .isEqualTo("inductor/ab/café.py");
    }

    @Test
    void decode_invalidBytes_areKeptApartAndComeBack() {
        byte[] a = {'x', (byte) 0xff, '.', 'p', 'y'};
        byte[] b = {'x', (byte) 0xfe, '.', 'p', 'y'};
        String na = FileNames.decode(a);
        String nb = FileNames.decode(b);
        assertThat(na).isNotEqualTo(nb);
        assertThat(FileNames.encode(na)).isEqualTo(a);
        assertThat(FileNames.encode(nb)).isEqualTo(b);
    }

    @Test
    void encodeDecode_everyByteAndMixedSequences_roundTrip() {
        java.util.Random r = new java.util.Random(42);
        for (int i = 0; i < 5_000; i++) {
            byte[] in = new byte[1 + r.nextInt(12)];
            r.nextBytes(in);
            assertThat(FileNames.encode(FileNames.decode(in))).isEqualTo(in);
        }
        byte[] surrogateLookalike = "\uDCFF".getBytes(StandardCharsets.UTF_8); // CESU bytes, not valid UTF-8
        assertThat(FileNames.encode(FileNames.decode(surrogateLookalike))).isEqualTo(surrogateLookalike);
    }
}
