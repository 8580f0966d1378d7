using Grpc.Core;
using Vimage.AspNetCore.Tests.Grpc;

namespace Vimage.AspNetCore.Tests;

/// <summary>The gRPC service of the tests: echoes text and payload, and tells who called.</summary>
public sealed class EchoService : Echo.EchoBase
{
    public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context)
        => Task.FromResult(new EchoReply { Text = request.Text, Payload = request.Payload, Peer = context.Peer });

    public override async Task Chat(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await foreach (EchoRequest request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoReply { Text = request.Text.ToUpperInvariant(), Payload = request.Payload, Peer = context.Peer });
        }
    }
}
