import FolioSimModel
import FolioSimExplore

import Foundation

/// The SVG chart of one sweep metric, written by FolioSim itself: the first axis along x, one
/// series per combination of the other axes. A numeric first axis (numbers or sizes such as
/// "64K") is drawn as lines through the points, placed evenly in the order written; any other
/// as grouped bars. 800 × 480 px, a title, axis labels (the metric's unit on y), a legend
/// titled with the other axes' names.
enum SweepChart {
    static let width = 800.0, height = 480.0
    static let left = 90.0, right = 210.0, top = 50.0, bottom = 70.0
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case _ where c.value < 0x20: out += " "
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// What a metric counts, for the y label.
    static func unit(_ metric: String) -> String {
        let last = metric.split(separator: ".").last.map(String.init) ?? metric
        if last.lowercased().contains("pages") || last == "nr_anon" || last == "nr_anon_partially_mapped" { return "pages" }
        if metric.hasPrefix("total.faults") || metric.contains(".faults.") { return "faults" }
        if metric.contains(".mthp.") { return "events" }
        if last.lowercased().contains("bytes") { return "bytes" }
        return "count"
    }

    static func isNumeric(_ values: [JSONValue]) -> Bool {
        values.allSatisfy {
            switch $0 {
            case .number: true
            case .string(let s): parseSize(s) != nil
            default: false
            }
        }
    }

    /// A round step for about five ticks up to `max`.
    static func tickStep(_ max: Double) -> Double {
        guard max > 0 else { return 1 }
        let raw = max / 5
        let mag = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 2.5, 5, 10] where m * mag >= raw { return m * mag }
        return 10 * mag
    }

    static func tickLabel(_ v: Double) -> String {
        if v >= 1e9 { return Sweep.format(v / 1e9) + "G" }
        if v >= 1e6 { return Sweep.format((v / 1e5).rounded() / 10) + "M" }
        if v >= 1e4 { return Sweep.format((v / 1e2).rounded() / 10) + "k" }
        return Sweep.format(v)
    }

    static func svg(_ plan: SweepPlan, _ rows: [SweepRow], metric m: Int) -> String {
        let metric = plan.metrics[m]
        let xAxis = plan.axes[0]
        let others = Array(plan.axes.dropFirst())
        // series key: the coordinates on the other axes
        var seriesKeys: [[Int]] = []
        var data: [[Int]: [Double?]] = [:]
        for row in rows {
            let c = plan.coordinates(of: row.point)
            let key = Array(c.dropFirst())
            if data[key] == nil {
                seriesKeys.append(key)
                data[key] = Array(repeating: nil, count: xAxis.values.count)
            }
            data[key]![c[0]] = row.metrics[m]
        }
        let seriesNames = seriesKeys.map { key in
            key.isEmpty ? metric : zip(others, key).map { label($0.values[$1]) }.joined(separator: ", ")
        }
        let maxValue = max(rows.compactMap { $0.metrics[m] }.max() ?? 0, 0)
        let step = tickStep(maxValue)
        let yMax = max(step, (maxValue / step).rounded(.up) * step)
        let plotW = width - left - right, plotH = height - top - bottom
        func y(_ v: Double) -> Double { top + plotH - v / yMax * plotH }
        let slot = plotW / Double(xAxis.values.count)
        func xCenter(_ i: Int) -> Double { left + slot * (Double(i) + 0.5) }

        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="13">
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="white"/>
        <text x="\(Int(width / 2))" y="28" text-anchor="middle" font-size="16">\(escape(plan.name)): \(escape(metric))</text>

        """
        var tick = 0.0
        while tick <= yMax + step / 2 {
            let ty = y(tick)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + plotW))\" y2=\"\(f(ty))\" stroke=\"#dddddd\"/>\n"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(ty + 4))\" text-anchor=\"end\">\(tickLabel(tick))</text>\n"
            tick += step
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"black\"/>\n"
        for i in xAxis.values.indices {
            s += "<text x=\"\(f(xCenter(i)))\" y=\"\(f(top + plotH + 20))\" text-anchor=\"middle\">\(escape(short(label(xAxis.values[i]))))</text>\n"
        }
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 18))\" text-anchor=\"middle\">\(escape(xAxis.name))</text>\n"
        s += "<text x=\"22\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 22 \(f(top + plotH / 2)))\">\(escape(metric)) (\(unit(metric)))</text>\n"

        if isNumeric(xAxis.values) {
            for (k, key) in seriesKeys.enumerated() {
                let color = palette[k % palette.count]
                let pts = data[key]!.enumerated().compactMap { i, v in v.map { (xCenter(i), y($0)) } }
                s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>\n"
                for p in pts { s += "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"3.5\" fill=\"\(color)\"/>\n" }
            }
        } else {
            let barW = slot * 0.8 / Double(max(1, seriesKeys.count))
            for (k, key) in seriesKeys.enumerated() {
                let color = palette[k % palette.count]
                for (i, v) in data[key]!.enumerated() {
                    guard let v else { continue }
                    let x = left + slot * Double(i) + slot * 0.1 + barW * Double(k)
                    s += "<rect x=\"\(f(x))\" y=\"\(f(y(v)))\" width=\"\(f(barW))\" height=\"\(f(top + plotH - y(v)))\" fill=\"\(color)\"><title>\(escape(seriesNames[k])): \(Sweep.format(v))</title></rect>\n"
                }
            }
        }
        if !others.isEmpty {
            s += "<text x=\"\(f(width - right + 15))\" y=\"\(f(top - 8))\" font-size=\"11\">\(escape(short(others.map(\.name).joined(separator: ", "), 32)))</text>\n"
        }
        for (k, name) in seriesNames.enumerated() {
            let ly = top + 10 + Double(k) * 20
            s += "<rect x=\"\(f(width - right + 15))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(palette[k % palette.count])\"/>\n"
            s += "<text x=\"\(f(width - right + 32))\" y=\"\(f(ly))\" font-size=\"11\">\(escape(short(name, 30)))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// A value as a tick or legend label: a string as is; an object of settings (such as
    /// `thp.sizes`) as the keys not set to "never", joined by "+"; anything else as JSON.
    static func label(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return s
        case .number(_, let t): return t
        case .object(let ms) where ms.allSatisfy({ if case .string = $0.value { true } else { false } }):
            let on = ms.filter { $0.value != .string("never") }.map(\.key)
            return on.isEmpty ? "none" : on.joined(separator: "+")
        default: return JSONWriter.write(v, indent: nil)
        }
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }
    private static func short(_ s: String, _ n: Int = 18) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
}
