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

    /// Free text for SVG: `oneLine`'s escapes (XML 1.0 has no control characters), then
    /// XML's.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in oneLine(s).unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
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

    /// A round step for about five ticks up to `max` (a finite number: shards with others are
    /// refused); `max` itself when a fifth of it is too small for a power of ten (5e-324).
    static func tickStep(_ max: Double) -> Double {
        guard max > 0, max.isFinite else { return 1 }
        let raw = max / 5
        guard raw.isNormal, pow(10, floor(log10(raw))).isNormal else { return max }
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

    /// The rows' values of one metric: one series per combination of coordinates on the
    /// axes after the first, in the order the rows first reach it, each a value (or none) per
    /// value of the first axis.
    private struct Series {
        var keys: [[Int]] = []
        var data: [[Int]: [Double?]] = [:]
        var names: [String] = []
    }

    /// Where values go: the y scale (ticks every `step` up to `yMax`) and one x slot per value
    /// of the first axis.
    private struct Layout {
        let step: Double, yMax: Double
        let plotW = SweepChart.width - SweepChart.left - SweepChart.right
        let plotH = SweepChart.height - SweepChart.top - SweepChart.bottom
        let slot: Double

        init(maxValue: Double, xCount: Int) {
            step = SweepChart.tickStep(maxValue)
            yMax = max(step, (maxValue / step).rounded(.up) * step)
            slot = plotW / Double(xCount)
        }
        func y(_ v: Double) -> Double { SweepChart.top + plotH - v / yMax * plotH }
        func xCenter(_ i: Int) -> Double { SweepChart.left + slot * (Double(i) + 0.5) }
    }

    static func svg(_ plan: SweepPlan, _ rows: [SweepRow], metric m: Int) -> String {
        let xAxis = plan.axes[0]
        let series = series(plan, rows, metric: m)
        let layout = Layout(maxValue: max(rows.compactMap { $0.metrics[m] }.max() ?? 0, 0), xCount: xAxis.values.count)
        var s = frame(plan, metric: plan.metrics[m], layout)
        s += isNumeric(xAxis.values) ? lines(series, layout) : bars(series, layout)
        s += legend(Array(plan.axes.dropFirst()), series.names)
        return s + "</svg>\n"
    }

    /// Groups the rows' values of metric `m` into series.
    private static func series(_ plan: SweepPlan, _ rows: [SweepRow], metric m: Int) -> Series {
        let xAxis = plan.axes[0]
        let others = Array(plan.axes.dropFirst())
        var series = Series()
        for row in rows {
            let c = plan.coordinates(of: row.point)
            let key = Array(c.dropFirst())
            if series.data[key] == nil {
                series.keys.append(key)
                series.data[key] = Array(repeating: nil, count: xAxis.values.count)
            }
            series.data[key]![c[0]] = row.metrics[m]
        }
        series.names = series.keys.map { key in
            key.isEmpty ? plan.metrics[m] : zip(others, key).map { label($0.values[$1]) }.joined(separator: ", ")
        }
        return series
    }

    /// The SVG up to the data: the title, the y grid with its tick labels, both axes, the
    /// first axis's values and name, and the metric's name and unit along y.
    private static func frame(_ plan: SweepPlan, metric: String, _ l: Layout) -> String {
        let xAxis = plan.axes[0]
        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="13">
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="white"/>
        <text x="\(Int(width / 2))" y="28" text-anchor="middle" font-size="16">\(escape(plan.name)): \(escape(metric))</text>

        """
        var tick = 0.0
        while tick <= l.yMax + l.step / 2 {
            let ty = l.y(tick)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(left + l.plotW))\" y2=\"\(f(ty))\" stroke=\"#dddddd\"/>\n"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(ty + 4))\" text-anchor=\"end\">\(tickLabel(tick))</text>\n"
            tick += l.step
        }
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + l.plotH))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + l.plotH))\" x2=\"\(f(left + l.plotW))\" y2=\"\(f(top + l.plotH))\" stroke=\"black\"/>\n"
        for i in xAxis.values.indices {
            s += "<text x=\"\(f(l.xCenter(i)))\" y=\"\(f(top + l.plotH + 20))\" text-anchor=\"middle\">\(escape(short(label(xAxis.values[i]))))</text>\n"
        }
        s += "<text x=\"\(f(left + l.plotW / 2))\" y=\"\(f(height - 18))\" text-anchor=\"middle\">\(escape(xAxis.name))</text>\n"
        s += "<text x=\"22\" y=\"\(f(top + l.plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 22 \(f(top + l.plotH / 2)))\">\(escape(metric)) (\(unit(metric)))</text>\n"
        return s
    }

    /// Each series as a line through its points, for a numeric first axis.
    private static func lines(_ series: Series, _ l: Layout) -> String {
        var s = ""
        for (k, key) in series.keys.enumerated() {
            let color = palette[k % palette.count]
            let pts = series.data[key]!.enumerated().compactMap { i, v in v.map { (l.xCenter(i), l.y($0)) } }
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " "))\"/>\n"
            for p in pts { s += "<circle cx=\"\(f(p.0))\" cy=\"\(f(p.1))\" r=\"3.5\" fill=\"\(color)\"/>\n" }
        }
        return s
    }

    /// The series as grouped bars, one group per value of the first axis.
    private static func bars(_ series: Series, _ l: Layout) -> String {
        var s = ""
        let barW = l.slot * 0.8 / Double(max(1, series.keys.count))
        for (k, key) in series.keys.enumerated() {
            let color = palette[k % palette.count]
            for (i, v) in series.data[key]!.enumerated() {
                guard let v else { continue }
                let x = left + l.slot * Double(i) + l.slot * 0.1 + barW * Double(k)
                s += "<rect x=\"\(f(x))\" y=\"\(f(l.y(v)))\" width=\"\(f(barW))\" height=\"\(f(top + l.plotH - l.y(v)))\" fill=\"\(color)\"><title>\(escape(series.names[k])): \(Sweep.format(v))</title></rect>\n"
            }
        }
        return s
    }

    /// The legend: titled with the other axes' names (if any), a swatch and name per series.
    private static func legend(_ others: [SweepAxis], _ names: [String]) -> String {
        var s = ""
        if !others.isEmpty {
            s += "<text x=\"\(f(width - right + 15))\" y=\"\(f(top - 8))\" font-size=\"11\">\(escape(short(others.map(\.name).joined(separator: ", "), 32)))</text>\n"
        }
        for (k, name) in names.enumerated() {
            let ly = top + 10 + Double(k) * 20
            s += "<rect x=\"\(f(width - right + 15))\" y=\"\(f(ly - 10))\" width=\"12\" height=\"12\" fill=\"\(palette[k % palette.count])\"/>\n"
            s += "<text x=\"\(f(width - right + 32))\" y=\"\(f(ly))\" font-size=\"11\">\(escape(short(name, 30)))</text>\n"
        }
        return s
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
