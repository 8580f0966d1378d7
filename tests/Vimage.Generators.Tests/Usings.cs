global using Microsoft.CodeAnalysis;
