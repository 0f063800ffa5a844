package io.mithril.agent.index;

import static org.assertj.core.api.Assertions.assertThat;

import io.mithril.agent.cas.Address;
import io.mithril.agent.store.StoreFixture;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class NameCodecTest {

    @Test
    void everyStringComesBack_loneSurrogatesIncluded() {
        List<String> cases = List.of(
                "",
                "inductor/ab/cabc.py",
                "café.py",
                "日本/語.py",
                "emoji/\uD83D\uDE00.py",
                "x\uDCFF.py",
                "x\uDCFE.py",
                "\uD800alone",
                "tail\uDBFF",
                "\uDC00\uD800");
        for (String s : cases) {
            assertThat(NameCodec.decode(NameCodec.encode(s))).as(s).isEqualTo(s);
        }
        assertThat(NameCodec.encode("x\uDCFF.py")).isNotEqualTo(NameCodec.encode("x\uDCFE.py"));
        assertThat(NameCodec.encode("café")).isEqualTo("café".getBytes(StandardCharsets.UTF_8));
        Random r = new Random(42);
        for (int n = 0; n < 10_000; n++) {
            char[] c = new char[r.nextInt(12)];
            for (int i = 0; i < c.length; i++) {
                c[i] = (char) r.nextInt(0x10000);
            }
            String s = new String(c);
            assertThat(NameCodec.decode(NameCodec.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void entriesKeepNamesAndPathsThatAreNotUtf8() {
        Address a = Address.fromBytes(new byte[32]);
        Entry e = new Entry(
                new EntryKey(StoreFixture.H100, "inductor/ab/x\uDCFF.py/"),
                List.of(new EntryFile("k\uDCFE.json", a, 1, false), new EntryFile("k\uDCFD.json", a, 1, true)),
                1,
                1,
                "test");
        assertThat(e.key().name()).isEqualTo("inductor/ab/x\uDCFF.py/");
        assertThat(e.files()).extracting(EntryFile::path).containsExactly("k\uDCFE.json", "k\uDCFD.json");
    }
}
