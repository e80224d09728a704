using System.Runtime.InteropServices;

namespace Sluice.Proxy.Transport;

/// <summary>
/// A socket's descriptor, referenced for the length of a system call made on it directly (splice, a non-waiting
/// send). A connection can be cut from another thread (the relay's other direction, the idle watch, a stop), and a
/// descriptor closed meanwhile could already be the number of the next accepted connection; referenced, the close
/// waits for the call. A handle already closed throws ObjectDisposedException.
/// </summary>
internal ref struct ReferencedDescriptor
{
    private readonly SafeHandle _handle;
    private bool _referenced;

    public ReferencedDescriptor(SafeHandle handle)
    {
        _handle = handle;
        handle.DangerousAddRef(ref _referenced);
        Value = (int)handle.DangerousGetHandle();
    }

    public int Value { get; }

    public void Dispose()
    {
        if (_referenced)
        {
            _referenced = false;
            _handle.DangerousRelease();
        }
    }
}
