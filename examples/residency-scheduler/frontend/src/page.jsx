export default function Home() {
  return <main>Residency Scheduler</main>;
}
