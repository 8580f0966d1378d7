using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Vimage.Cli.Lab;

/// <summary>Where something is in a topology file (1-based line and column).</summary>
public readonly record struct SourceSpot(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}

/// <summary>
/// A YAML node with its position. The tree is built from YamlDotNet's parser events rather than its representation
/// model so that duplicate keys are kept (and reported with both positions) instead of aborting the load.
/// </summary>
public sealed class YNode
{
    public enum Kinds { Scalar, Sequence, Mapping }

    public required Kinds Kind { get; init; }

    public required SourceSpot Where { get; init; }

    public string Value { get; init; } = "";

    /// <summary>True for a plain scalar written as null (~, null, or nothing).</summary>
    public bool IsNull { get; init; }

    public List<YNode> Items { get; } = [];

    public List<(YNode Key, YNode Value)> Pairs { get; } = [];

    public string Describe() => Kind switch
    {
        Kinds.Scalar => "a scalar",
        Kinds.Sequence => "a list",
        _ => "a mapping",
    };

    /// <summary>Parses one YAML document; a syntax error becomes a <see cref="LabError"/> with its position.</summary>
    public static YNode? Load(string file, TextReader text, List<LabError> errors)
    {
        var parser = new Parser(text);
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                errors.Add(new LabError(new SourceSpot(file, 1, 1), "the file is empty"));
                return null;
            }

            parser.Consume<DocumentStart>();
            YNode root = Read(file, parser);
            parser.Consume<DocumentEnd>();
            if (!parser.Accept<StreamEnd>(out _))
            {
                errors.Add(new LabError(Spot(file, parser.Current!.Start), "only one YAML document is allowed"));
                return null;
            }

            return root;
        }
        catch (YamlException e)
        {
            errors.Add(new LabError(Spot(file, e.Start), e.InnerException?.Message ?? e.Message));
            return null;
        }
    }

    private static SourceSpot Spot(string file, Mark mark) => new(file, (int)Math.Max(1, mark.Line), (int)Math.Max(1, mark.Column));

    private static YNode Read(string file, IParser parser)
    {
        ParsingEvent e = parser.Current ?? throw new YamlException("unexpected end of the file");
        SourceSpot where = Spot(file, e.Start);
        switch (e)
        {
            case Scalar s:
                parser.MoveNext();
                bool isNull = s.Style == ScalarStyle.Plain && s.Value is "" or "~" or "null" or "Null" or "NULL";
                return new YNode { Kind = Kinds.Scalar, Where = where, Value = s.Value, IsNull = isNull };
            case SequenceStart:
            {
                parser.MoveNext();
                var node = new YNode { Kind = Kinds.Sequence, Where = where };
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    node.Items.Add(Read(file, parser));
                }

                return node;
            }

            case MappingStart:
            {
                parser.MoveNext();
                var node = new YNode { Kind = Kinds.Mapping, Where = where };
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    YNode key = Read(file, parser);
                    YNode value = Read(file, parser);
                    node.Pairs.Add((key, value));
                }

                return node;
            }

            case AnchorAlias:
                throw new YamlException(e.Start, e.End, "aliases (*name) are not supported in topology files");
            default:
                throw new YamlException(e.Start, e.End, $"unexpected {e.GetType().Name}");
        }
    }
}

/// <summary>One problem found in a topology file: FILE:LINE:COLUMN: message.</summary>
public sealed record LabError(SourceSpot Where, string Message)
{
    public override string ToString() => $"{Where}: {Message}";
}

/// <summary>A topology file that did not validate: every problem at once, nothing deployed.</summary>
public sealed class LabValidationException(IReadOnlyList<LabError> errors)
    : Exception(string.Join("\n", errors.Select(e => e.ToString())))
{
    public IReadOnlyList<LabError> Errors { get; } = errors;
}
