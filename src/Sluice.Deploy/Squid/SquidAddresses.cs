using System.Net;
using System.Net.Sockets;

namespace Sluice.Deploy.Squid;

/// <summary>The address forms of Squid's <c>src</c> and <c>dst</c> acls, as Sluice's address ranges.</summary>
internal static class SquidAddresses
{
    /// <summary>Squid's forms: <c>10.0.0.0/8</c>, <c>10.0.0.0/255.0.0.0</c>, <c>10.0.0.1</c>, <c>0.0.0.1-0.255.255.255</c>, <c>::1</c>.</summary>
    public static bool TryParse(string text, out List<IPNetwork> networks)
    {
        networks = [];
        int dash = text.IndexOf('-');
        if (dash > 0 && IPAddress.TryParse(text[..dash], out IPAddress? first) && IPAddress.TryParse(text[(dash + 1)..], out IPAddress? last)
            && first.AddressFamily == AddressFamily.InterNetwork && last.AddressFamily == AddressFamily.InterNetwork)
        {
            uint a = ToUInt(first), b = ToUInt(last);
            if (a > b)
            {
                return false;
            }

            networks = RangeToNetworks(a, b);
            return true;
        }

        int slash = text.IndexOf('/');
        string addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out IPAddress? address) || addressText.Count(c => c == '.') is not (0 or 3))
        {
            return false;
        }

        int max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int prefix = max;
        if (slash >= 0)
        {
            string mask = text[(slash + 1)..];
            if (IPAddress.TryParse(mask, out IPAddress? maskAddress) && mask.Contains('.') && address.AddressFamily == AddressFamily.InterNetwork)
            {
                uint m = ToUInt(maskAddress);
                prefix = System.Numerics.BitOperations.PopCount(m);
                if (m != (prefix == 0 ? 0 : uint.MaxValue << (32 - prefix)))
                {
                    return false; // not a contiguous netmask
                }
            }
            else if (!int.TryParse(mask, out prefix) || prefix < 0 || prefix > max)
            {
                return false;
            }
        }

        networks = [new IPNetwork(Truncate(address, prefix), prefix)];
        return true;
    }

    private static uint ToUInt(IPAddress address)
    {
        byte[] b = address.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    private static IPAddress FromUInt(uint value) => new([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

    private static List<IPNetwork> RangeToNetworks(uint first, uint last)
    {
        var result = new List<IPNetwork>();
        ulong start = first;
        while (start <= last)
        {
            int size = 32;
            while (size > 0)
            {
                ulong block = 1UL << (33 - size);
                if (start % block != 0 || start + block - 1 > last)
                {
                    break;
                }

                size--;
            }

            result.Add(new IPNetwork(FromUInt((uint)start), size));
            start += 1UL << (32 - size);
        }

        return result;
    }

    private static IPAddress Truncate(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
