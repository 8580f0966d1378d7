using System.Globalization;

namespace Vimage.Core;

/// <summary>Start-up values read from the environment before anything boots, like loader tunables.</summary>
internal static class Tunables
{
    public static int GetInt(string name, int fallback, int min, int max)
    {
        string? text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new InvalidOperationException($"tunable {name}='{text}' must be an integer in [{min}, {max}]");
        }

        return value;
    }
}
