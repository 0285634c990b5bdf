@testable import API
import Testing

@Suite struct ServerProcessTests {
    @Test("the serving process's malloc setting reaches glibc (a wrong #if once made it a silent no-op)")
    func mallocTuning() {
        #expect(ServerProcess.keepFreedMemory())
    }
}
