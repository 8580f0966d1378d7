global using Xunit;

// Interfaces, vnets and their workers are process-wide: tests that count them must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
