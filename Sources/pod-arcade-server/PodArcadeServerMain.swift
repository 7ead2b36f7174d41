import ServerHost

@main
struct PodArcadeServerMain {
    static func main() async {
        await ServerCommand.main()
    }
}
