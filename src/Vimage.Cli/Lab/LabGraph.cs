using System.Globalization;
using System.Security;

namespace Vimage.Cli.Lab;

/// <summary>
/// <c>lab graph</c>: the lab as Graphviz DOT, or as an SVG drawn here (no Graphviz needed). The SVG layout is
/// layered and deterministic: nodes are placed by breadth-first distance from the first node of each connected
/// part (one column per distance, nodes of a column in discovery order); long shapes wrap into bands of
/// <see cref="ColumnsPerBand"/> columns. Every node is a labelled box, every link a line with its interface names.
/// </summary>
public static class LabGraph
{
    private const int ColumnsPerBand = 24;
    private const int CellWidth = 150;
    private const int CellHeight = 64;
    private const int BoxWidth = 110;
    private const int BoxHeight = 34;
    private const int Margin = 30;

    public static void WriteDot(LabRuntime lab, TextWriter o)
    {
        o.WriteLine($"graph {Dq(lab.Name)} {{");
        o.WriteLine("  graph [overlap=false, splines=true];");
        o.WriteLine("  node [shape=box, style=rounded, fontname=\"Helvetica\"];");
        o.WriteLine("  edge [fontname=\"Helvetica\", fontsize=9];");
        foreach (LabNode node in lab.Plan.Nodes)
        {
            string shape = node.Base == NodeBase.Host ? ", shape=component" : "";
            o.WriteLine($"  {Dq(node.Name)} [label={Dq($"{node.Name}\n{node.Kind}")}{shape}];");
        }

        foreach (LabLink link in lab.Plan.Links)
        {
            var attrs = new List<string> { $"taillabel={Dq(link.AIf.Name)}", $"headlabel={Dq(link.BIf.Name)}" };
            if (LinkLabel(link) is { Length: > 0 } label)
            {
                attrs.Add($"label={Dq(label)}");
            }

            o.WriteLine($"  {Dq(link.A.Name)} -- {Dq(link.B.Name)} [{string.Join(", ", attrs)}];");
        }

        o.WriteLine("}");
    }

    private static string LinkLabel(LabLink link)
    {
        var parts = new List<string>();
        if (link.AIf.Addresses.FirstOrDefault() is { Length: > 0 } a)
        {
            uint mask = Vimage.Net.Inet.InAddr.MaskOf(a.Length);
            parts.Add($"{new Vimage.Net.Inet.InAddr(a.Address.Value & mask)}/{a.Length}");
        }

        string[] p = link.Impairment.Parameters();
        for (int i = 0; i < p.Length; i += 2)
        {
            parts.Add($"{p[i]} {p[i + 1]}");
        }

        return string.Join(" ", parts);
    }

    /// <summary>Positions (x, y of the box centre) for every node, and the picture's size.</summary>
    public static (Dictionary<LabNode, (int X, int Y)> At, int Width, int Height) Layout(LabPlan plan)
    {
        var neighbours = new Dictionary<LabNode, List<LabNode>>();
        foreach (LabNode n in plan.Nodes)
        {
            neighbours[n] = [];
        }

        foreach (LabLink l in plan.Links)
        {
            neighbours[l.A].Add(l.B);
            neighbours[l.B].Add(l.A);
        }

        // columns: BFS distance, parts placed one after another
        var column = new Dictionary<LabNode, int>();
        var columns = new List<List<LabNode>>();
        int offset = 0;
        foreach (LabNode start in plan.Nodes)
        {
            if (column.ContainsKey(start))
            {
                continue;
            }

            int deepest = 0;
            var queue = new Queue<LabNode>();
            queue.Enqueue(start);
            column[start] = offset;
            while (queue.Count > 0)
            {
                LabNode n = queue.Dequeue();
                int c = column[n];
                deepest = Math.Max(deepest, c - offset);
                while (columns.Count <= c)
                {
                    columns.Add([]);
                }

                columns[c].Add(n);
                foreach (LabNode m in neighbours[n])
                {
                    if (column.TryAdd(m, c + 1))
                    {
                        queue.Enqueue(m);
                    }
                }
            }

            offset += deepest + 1;
        }

        int tallest = columns.Count == 0 ? 1 : columns.Max(c => c.Count);
        int bandHeight = tallest * CellHeight + CellHeight / 2;
        var at = new Dictionary<LabNode, (int, int)>();
        for (int c = 0; c < columns.Count; c++)
        {
            int band = c / ColumnsPerBand, inBand = c % ColumnsPerBand;
            int x = Margin + (band % 2 == 0 ? inBand : ColumnsPerBand - 1 - inBand) * CellWidth + BoxWidth / 2; // serpentine
            for (int r = 0; r < columns[c].Count; r++)
            {
                int y = Margin + band * bandHeight + r * CellHeight + BoxHeight / 2;
                at[columns[c][r]] = (x, y);
            }
        }

        int bands = (columns.Count + ColumnsPerBand - 1) / ColumnsPerBand;
        int width = 2 * Margin + Math.Min(columns.Count, ColumnsPerBand) * CellWidth;
        int height = 2 * Margin + Math.Max(1, bands) * bandHeight;
        return (at, width, height);
    }

    public static void WriteSvg(LabRuntime lab, TextWriter o) => WriteSvg(lab.Plan, o);

    public static void WriteSvg(LabPlan plan, TextWriter o)
    {
        (Dictionary<LabNode, (int X, int Y)> at, int width, int height) = Layout(plan);
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        o.WriteLine(string.Create(inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\">"));
        o.WriteLine($"  <title>lab {X(plan.Name)}</title>");
        o.WriteLine("  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        o.WriteLine("  <g id=\"links\" stroke=\"#555\" stroke-width=\"1.5\">");
        foreach (LabLink link in plan.Links)
        {
            (int x1, int y1) = at[link.A];
            (int x2, int y2) = at[link.B];
            string dash = link.Impairment.Any ? " stroke-dasharray=\"6 3\" stroke=\"#c33\"" : "";
            o.WriteLine(string.Create(inv, $"    <line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"{dash}><title>{X($"{link.A.Name}:{link.AIf.Name} - {link.B.Name}:{link.BIf.Name} {LinkLabel(link)}")}</title></line>"));
        }

        o.WriteLine("  </g>");
        o.WriteLine("  <g id=\"labels\" font-size=\"9\" fill=\"#333\">");
        foreach (LabLink link in plan.Links)
        {
            (int x1, int y1) = at[link.A];
            (int x2, int y2) = at[link.B];
            // interface names just outside each box, on the line
            (double ax, double ay) = OutsideBox(x1, y1, x2, y2);
            (double bx, double by) = OutsideBox(x2, y2, x1, y1);
            o.WriteLine(string.Create(inv, $"    <text x=\"{ax:0}\" y=\"{ay - 2:0}\" text-anchor=\"middle\">{X(link.AIf.Name)}</text>"));
            o.WriteLine(string.Create(inv, $"    <text x=\"{bx:0}\" y=\"{by - 2:0}\" text-anchor=\"middle\">{X(link.BIf.Name)}</text>"));
        }

        o.WriteLine("  </g>");
        o.WriteLine("  <g id=\"nodes\" font-size=\"12\">");
        foreach (LabNode node in plan.Nodes)
        {
            (int x, int y) = at[node];
            string fill = node.Base == NodeBase.Host ? "#fde9c8" : "#dbe9f8";
            o.WriteLine(string.Create(inv, $"    <g class=\"node\" id=\"node-{X(node.Name)}\">"));
            o.WriteLine(string.Create(inv, $"      <rect x=\"{x - BoxWidth / 2}\" y=\"{y - BoxHeight / 2}\" width=\"{BoxWidth}\" height=\"{BoxHeight}\" rx=\"6\" fill=\"{fill}\" stroke=\"#246\"/>"));
            o.WriteLine(string.Create(inv, $"      <text x=\"{x}\" y=\"{y - 2}\" text-anchor=\"middle\">{X(node.Name)}</text>"));
            o.WriteLine(string.Create(inv, $"      <text x=\"{x}\" y=\"{y + 11}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">{X(node.Kind)}</text>"));
            o.WriteLine("    </g>");
        }

        o.WriteLine("  </g>");
        o.WriteLine("</svg>");
    }

    /// <summary>The point on the segment from (x1, y1) towards (x2, y2) a little beyond the edge of the box at (x1, y1).</summary>
    private static (double X, double Y) OutsideBox(int x1, int y1, int x2, int y2)
    {
        double dx = x2 - x1, dy = y2 - y1, length = Math.Sqrt(dx * dx + dy * dy);
        if (length == 0)
        {
            return (x1, y1);
        }

        double ux = dx / length, uy = dy / length;
        double tx = ux == 0 ? double.MaxValue : (BoxWidth / 2.0) / Math.Abs(ux);
        double ty = uy == 0 ? double.MaxValue : (BoxHeight / 2.0) / Math.Abs(uy);
        double t = Math.Min(Math.Min(tx, ty) + 16, length / 2);
        return (x1 + ux * t, y1 + uy * t);
    }

    private static string X(string s) => SecurityElement.Escape(s) ?? "";

    /// <summary>A DOT double-quoted ID.</summary>
    private static string Dq(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) + "\"";
}
