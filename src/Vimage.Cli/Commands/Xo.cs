using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml;

namespace Vimage.Cli.Commands;

/// <summary>libxo's output styles (--libxo text|json|xml).</summary>
public enum XoStyle
{
    Text,
    Json,
    Xml,
}

/// <summary>
/// A small libxo: the tools that use xo_emit (netstat, arp) describe their output once; in text style it is
/// printed as is, in JSON or XML style the same calls build a tree of containers, lists and fields named as
/// FreeBSD's xo_emit field names, written by <see cref="Finish"/>. Only what those tools use is here.
/// </summary>
public sealed class Xo
{
    private readonly TextWriter _out;
    private readonly Stack<JsonNode> _stack = new();
    private readonly bool _pretty;

    public Xo(TextWriter output, XoStyle style, bool pretty = false)
    {
        _out = output;
        Style = style;
        _pretty = pretty;
        _stack.Push(new JsonObject());
    }

    public XoStyle Style { get; }

    public bool IsText => Style == XoStyle.Text;

    /// <summary>
    /// Parses a --libxo argument ("json", "xml,pretty", "text", "J", "X"...): the style and modifiers libxo accepts;
    /// html is not offered by Vimage.
    /// </summary>
    public static (XoStyle Style, bool Pretty) ParseOptions(string prog, string options)
    {
        XoStyle style = XoStyle.Text;
        bool pretty = false;
        string text = options.TrimStart(':', '=');
        IEnumerable<string> words = text.Contains(',', StringComparison.Ordinal) || text.Length > 1 && text.Any(char.IsLower)
            ? text.Split(',', StringSplitOptions.RemoveEmptyEntries)
            : text.Select(c => c.ToString());
        foreach (string word in words)
        {
            switch (word)
            {
                case "json" or "J":
                    style = XoStyle.Json;
                    break;
                case "xml" or "X":
                    style = XoStyle.Xml;
                    break;
                case "text" or "T":
                    style = XoStyle.Text;
                    break;
                case "pretty" or "P":
                    pretty = true;
                    break;
                case "html" or "H":
                    throw new CommandException($"{prog}: --libxo html: HTML output is not supported in Vimage");
                case "warn" or "W" or "keys" or "k" or "underscores" or "u" or "no-top" or "not-first" or "flush" or "F" or "I" or "info":
                    break;
                default:
                    throw new CommandException($"{prog}: libxo: unknown libxo option value: '{word}'");
            }
        }

        return (style, pretty);
    }

    /// <summary>
    /// xo_parse_args: takes every "--libxo OPTS", "--libxo=OPTS" and "--libxo:OPTS" out of the arguments (wherever
    /// they are, as libxo does before getopt runs) and returns the style they ask for.
    /// </summary>
    public static (XoStyle Style, bool Pretty) ExtractArgs(string prog, ref string[] args)
    {
        var kept = new List<string>(args.Length);
        (XoStyle, bool) result = (XoStyle.Text, false);
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--libxo")
            {
                if (i + 1 >= args.Length)
                {
                    throw new UsageException($"{prog}: missing libxo option");
                }

                result = ParseOptions(prog, args[++i]);
            }
            else if (a.StartsWith("--libxo=", StringComparison.Ordinal) || a.StartsWith("--libxo:", StringComparison.Ordinal))
            {
                result = ParseOptions(prog, a[8..]);
            }
            else
            {
                kept.Add(a);
            }
        }

        args = [.. kept];
        return result;
    }

    /// <summary>Text style only: literal output (labels, padding, the formatted line).</summary>
    public void Text(string text)
    {
        if (IsText)
        {
            _out.Write(text);
        }
    }

    /// <summary>xo_open_container.</summary>
    public void Open(string name)
    {
        if (!IsText)
        {
            var node = new JsonObject();
            Current()[name] = node;
            _stack.Push(node);
        }
    }

    /// <summary>xo_close_container / xo_close_instance.</summary>
    public void Close()
    {
        if (!IsText)
        {
            _stack.Pop();
        }
    }

    /// <summary>xo_open_list + the first xo_open_instance: later instances use <see cref="NextInstance"/>.</summary>
    public void OpenList(string name)
    {
        if (!IsText)
        {
            JsonObject parent = Current();
            if (parent[name] is not JsonArray list)
            {
                list = new JsonArray();
                parent[name] = list;
            }

            _stack.Push(list);
        }
    }

    /// <summary>xo_open_instance inside the list just opened.</summary>
    public void OpenInstance()
    {
        if (!IsText)
        {
            var node = new JsonObject();
            ((JsonArray)_stack.Peek()).Add(node);
            _stack.Push(node);
        }
    }

    /// <summary>xo_close_list.</summary>
    public void CloseList() => Close();

    /// <summary>A field: its value in the tree (numbers as numbers); nothing in text style (print it with <see cref="Text"/>).</summary>
    public void Field(string key, long value)
    {
        if (!IsText)
        {
            Current()[key] = value;
        }
    }

    /// <summary>A string field (the 'q' modifier, or a non-numeric value).</summary>
    public void Field(string key, string value)
    {
        if (!IsText)
        {
            Current()[key] = value;
        }
    }

    /// <summary>A leaf-list value ({l:name}): appended to the array <paramref name="key"/>.</summary>
    public void LeafList(string key, string value)
    {
        if (!IsText)
        {
            JsonObject parent = Current();
            if (parent[key] is not JsonArray list)
            {
                list = new JsonArray();
                parent[key] = list;
            }

            list.Add(value);
        }
    }

    /// <summary>The "\t{:key/%ju} {N:/text}" statistics line: the text line, or the field.</summary>
    public void Stat(long value, string key, string line)
    {
        if (IsText)
        {
            _out.WriteLine(line);
        }
        else
        {
            Current()[key] = value;
        }
    }

    /// <summary>xo_finish: writes the tree in JSON or XML style.</summary>
    public void Finish()
    {
        if (IsText)
        {
            return;
        }

        JsonNode root = _stack.Last();
        if (Style == XoStyle.Json)
        {
            var options = new JsonSerializerOptions { WriteIndented = _pretty, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            _out.WriteLine(root.ToJsonString(options));
            return;
        }

        var settings = new XmlWriterSettings { Indent = _pretty, OmitXmlDeclaration = true, ConformanceLevel = ConformanceLevel.Fragment };
        var text = new StringBuilder();
        using (var xml = XmlWriter.Create(text, settings))
        {
            foreach (KeyValuePair<string, JsonNode?> member in (JsonObject)root)
            {
                WriteXml(xml, member.Key, member.Value);
            }
        }

        _out.WriteLine(text.ToString());
    }

    private static void WriteXml(XmlWriter xml, string name, JsonNode? node)
    {
        string element = XmlConvert.EncodeLocalName(name);
        switch (node)
        {
            case JsonArray array:
                foreach (JsonNode? item in array)
                {
                    WriteXml(xml, name, item);
                }

                break;
            case JsonObject obj:
                xml.WriteStartElement(element);
                foreach (KeyValuePair<string, JsonNode?> member in obj)
                {
                    WriteXml(xml, member.Key, member.Value);
                }

                xml.WriteEndElement();
                break;
            default:
                xml.WriteElementString(element, node is null ? "" : Convert.ToString(node.GetValue<object>(), CultureInfo.InvariantCulture) ?? "");
                break;
        }
    }

    private JsonObject Current() => (JsonObject)_stack.Peek();
}
