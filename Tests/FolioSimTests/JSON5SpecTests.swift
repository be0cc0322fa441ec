import Foundation
import Testing
@testable import FolioSimModel
@testable import FolioSimExplore
@testable import FolioSimExperiments

/// The JSON5 reader against the JSON5 spec (spec.json5.org, 1.0.0) on the inputs the hostile-
/// input audit found it accepting or refusing wrongly (issue 18, item 3), each refusal with
/// its line and column, and the config fields whose own syntax was too loose.
@Suite(.enabled(if: Tier.fast)) struct JSON5SpecTests {
    func syntaxError(_ text: String) -> JSON5SyntaxError? {
        do { _ = try JSON5Parser.parse(text); return nil } catch { return error }
    }

    @Test func numbersFollowTheGrammar() throws {
        for (text, line, column) in [("{ addr: . }", 1, 9), ("{\n  a: 007 }", 2, 6), ("[1, 00]", 1, 5), ("[1e]", 1, 2),
                                     ("[1e+]", 1, 2), ("[-]", 1, 2), ("[+.]", 1, 2), ("[0x]", 1, 2), ("[12abc]", 1, 2),
                                     ("[1.2.3]", 1, 2), ("[0x1g]", 1, 2), ("[0x10000000000000000]", 1, 2), ("[Infinityx]", 1, 2)] {
            let e = try #require(syntaxError(text), "\(text) was accepted")
            #expect((e.line, e.column) == (line, column), "\(text): \(e)")
        }
        for (text, value) in [("0", 0.0), ("-0", -0.0), ("5.", 5), (".5", 0.5), ("-.5", -0.5), ("+1", 1), ("1e3", 1000),
                              ("1E-2", 0.01), ("0.25", 0.25), ("0x1F", 31), ("-0xA", -10), ("10", 10)] {
            guard case .number(let v, _) = try JSON5Parser.parse(text) else { Issue.record("\(text): not a number"); continue }
            #expect(v == value, "\(text)")
        }
        guard case .number(let nan, _) = try JSON5Parser.parse("-NaN") else { Issue.record("-NaN"); return }
        #expect(nan.isNaN)
    }

    @Test func anUnterminatedBlockCommentIsAnErrorAtItsStart() throws {
        let e = try #require(syntaxError("{ a: 1 }\n  /* never closed"))
        #expect((e.line, e.column) == (2, 3) && e.message.contains("unterminated block comment"), "\(e)")
        #expect(syntaxError("{ a: 1 } /* closed */") == nil)
        #expect(syntaxError("{ a: /* */ 1 } // to the end") == nil)
    }

    @Test func stringEscapesFollowTheSpec() throws {
        #expect(try JSON5Parser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSON5Parser.parse(#"'\x41\u00e9\'\"\\\/\q'"#) == .string("Aé'\"\\/q"))
        #expect(try JSON5Parser.parse("'a\\\nb'") == .string("ab"))
        #expect(try JSON5Parser.parse("'a\\\r\nb'") == .string("ab"))
        #expect(try JSON5Parser.parse("'a\\\u{2028}b'") == .string("ab"))
        #expect(try JSON5Parser.parse("'a\u{2028}b'") == .string("a\u{2028}b"))
        #expect(try JSON5Parser.parse(#"'\0'"#) == .string("\0"))
        for (text, column) in [(#"[ "\ud83d" ]"#, 4), (#"[ "\ude00\ud83d" ]"#, 4), (#"[ "\ud83dx" ]"#, 4), (#"[ "\ud83d\u0041" ]"#, 4),
                               (#"[ "\1" ]"#, 4), (#"[ "\01" ]"#, 4), (#"[ "\x4" ]"#, 4), (#"[ "\u12" ]"#, 4), ("[ \"a\rb\" ]", 5)] {
            let e = try #require(syntaxError(text), "\(text) was accepted")
            #expect((e.line, e.column) == (1, column), "\(text): \(e)")
        }
    }

    @Test func keysAreIdentifiersAndWhiteSpaceIsUnicodes() throws {
        #expect(try JSON5Parser.parse("{ $a_1: 1, café: 2, \u{2003}b\u{3000}: 3 }") == .object([("$a_1", .int(1)), ("café", .int(2)), ("b", .int(3))]))
        let e = try #require(syntaxError("{ 1a: 1 }"))
        #expect((e.line, e.column) == (1, 3))
        #expect(syntaxError("{ a-b: 1 }") != nil)
    }

    func configError(_ step: String) -> ConfigError? {
        let text = "{ steps: [ { op: \"mmap\", proc: \"P\", addr: \"0x40000000\", size: \"1M\", prot: \"rw\", map: \"private-anon\" }, \(step) ] }"
        do { _ = try Scenario.decode(text: text, file: "c.json5"); return nil } catch { return error }
    }

    @Test func addressesSizesAndProtectionsAreStrict() throws {
        for (step, path) in [(#"{ op: "write", proc: "P", addr: "0x+1000", size: "4K" }"#, "steps[1].addr"),
                             (#"{ op: "write", proc: "P", addr: "+1073741824", size: "4K" }"#, "steps[1].addr"),
                             (#"{ op: "write", proc: "P", addr: "0x", size: "4K" }"#, "steps[1].addr"),
                             (#"{ op: "write", proc: "P", addr: "0x40000000", size: "+4K" }"#, "steps[1].size"),
                             (#"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "wwrr" }"#, "steps[1].prot"),
                             (#"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "wr" }"#, "steps[1].prot"),
                             (#"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "rr" }"#, "steps[1].prot")] {
            let e = try #require(configError(step), "\(step) was accepted")
            #expect(e.path == path, "\(e)")
        }
        for step in [#"{ op: "write", proc: "P", addr: "0x40001000", size: "4K" }"#, #"{ op: "write", proc: "P", addr: "1073745920", size: "4k" }"#,
                     #"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "rwx" }"#,
                     #"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "none" }"#,
                     #"{ op: "mprotect", proc: "P", addr: "0x40000000", size: "4K", prot: "wx" }"#] {
            #expect(configError(step) == nil, "\(step)")
        }
    }

    @Test func aSyntaxErrorInAConfigNamesFileLineAndColumnOnOneLine() throws {
        let e = try #require(configError("{ op: \"write\", proc: \"P\", addr: ., size: \"4K\" }"))
        #expect(e.description.hasPrefix("c.json5:1:") && e.description.contains("no digits") && !e.description.contains("\n"), "\(e)")
    }
}
