global using Xunit;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
