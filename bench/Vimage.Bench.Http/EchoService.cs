using Grpc.Core;

namespace Vimage.Bench.Http;

/// <summary>The gRPC side of the bench: echoes the request's payload.</summary>
internal sealed class EchoService : Echo.EchoBase
{
    public override Task<EchoMessage> Unary(EchoMessage request, ServerCallContext context) => Task.FromResult(request);
}
