"""Write the bundled SQuAD-format question set: ``course_utils/data/qa/{train,validation}.jsonl``.

Why we write our own: the Hub is unreachable offline and SQuAD may not be copied into the
project, yet the §7 notebooks need a SQuAD-shaped set to teach with and to fine-tune on.

How: structured facts (elements, planets, countries, rivers and mountains, scientists,
inventions and events, programming languages, software and machine-learning libraries) are
composed into passages with several phrasings per fact, and each fact carries its questions
(who / what / when / where / how many / why / which). Every answer is a span of its passage;
``answer_start`` is computed from the passage and checked. Some passages get extra background
sentences so that they need several windows at ``max_length`` 256 or 384.

The train split has one answer per question; the validation split has three reference answers
per question (as SQuAD dev has several annotators): the span itself, and variants that
annotators typically give (with or without a leading article or preposition, a shorter head).
Train and validation use different subjects, so no passage or question is shared.

Deterministic: ``python tools/make_bundled_qa.py`` always writes the same bytes (seeded RNG,
sorted output). ``--check`` verifies the committed files instead of writing them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "course_utils" / "data" / "qa"
SEED = 7
VALIDATION_EVERY = 5  # every 5th subject of each category (offset 2) goes to validation


@dataclass
class Fact:
    """One sentence of a passage with the questions it answers (answer = span of the sentence)."""

    text: str
    qas: list[tuple[str, str]] = field(default_factory=list)


def pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


# ==============================================================================================
# Facts
# ==============================================================================================
# name, symbol, number, who discovered/isolated it (or None), year (or None), name origin, use,
# property sentence (subject-less), why-question, because-clause
ELEMENTS = [
    ("Hydrogen", "H", 1, "Henry Cavendish", "1766", "the Greek words for 'water former'", "in fuel cells and to make ammonia",
     "It is the lightest element and makes up most of the ordinary matter in stars", "is hydrogen called the water former", "burning it in air produces water"),
    ("Helium", "He", 2, "Pierre Janssen and Norman Lockyer", "1868", "the Greek word helios, meaning sun", "to cool the magnets of MRI scanners",
     "It was first seen as a yellow line in the spectrum of the Sun during a solar eclipse", "was helium named after the Sun", "it was first detected in sunlight before anyone found it on Earth"),
    ("Lithium", "Li", 3, "Johan August Arfwedson", "1817", "the Greek word lithos, meaning stone", "in rechargeable batteries for phones and electric cars",
     "It is the lightest metal and is soft enough to cut with a knife", "is lithium stored under oil", "it reacts with the moisture in air"),
    ("Nitrogen", "N", 7, "Daniel Rutherford", "1772", "the French name nitrogène, meaning maker of saltpetre", "to make fertilisers and to keep food fresh",
     "It makes up about 78 percent of the air we breathe", "do farmers spread nitrogen compounds on their fields", "plants need nitrogen to build proteins"),
    ("Oxygen", "O", 8, "Joseph Priestley", "1774", "the Greek words for 'acid former'", "in hospitals and in steel making",
     "It is the third most abundant element in the universe after hydrogen and helium", "do fires go out without oxygen", "burning is a reaction that consumes oxygen"),
    ("Neon", "Ne", 10, "William Ramsay and Morris Travers", "1898", "the Greek word neos, meaning new", "in bright advertising signs",
     "It glows a vivid reddish orange when an electric current passes through it", "is neon used in signs", "it glows brightly when electricity passes through it"),
    ("Sodium", "Na", 11, "Humphry Davy", "1807", "the Latin word natrium", "in street lamps and in table salt",
     "It is a soft, silvery metal that reacts violently with water", "is pure sodium kept away from water", "it reacts violently with water"),
    ("Aluminium", "Al", 13, "Hans Christian Ørsted", "1825", "alum, a salt known since ancient times", "in aircraft, drink cans and window frames",
     "It is the most abundant metal in the Earth's crust", "is aluminium used to build aircraft", "it is light but strong"),
    ("Silicon", "Si", 14, "Jöns Jacob Berzelius", "1823", "the Latin word silex, meaning flint", "in computer chips and solar panels",
     "It is the second most abundant element in the Earth's crust after oxygen", "is silicon used in computer chips", "it is a semiconductor whose conductivity can be controlled"),
    ("Phosphorus", "P", 15, "Hennig Brand", "1669", "the Greek words for 'light bearer'", "in fertilisers and matches",
     "It was the first element discovered by a known person, an alchemist searching for the philosopher's stone", "was phosphorus called the light bearer", "its white form glows in the dark"),
    ("Chlorine", "Cl", 17, "Carl Wilhelm Scheele", "1774", "the Greek word chloros, meaning pale green", "to disinfect drinking water and swimming pools",
     "It is a yellow-green gas with a strong, choking smell", "is chlorine added to drinking water", "it kills bacteria"),
    ("Argon", "Ar", 18, "Lord Rayleigh and William Ramsay", "1894", "the Greek word argos, meaning lazy", "inside light bulbs and in welding",
     "It is the third most common gas in the Earth's atmosphere", "was argon called the lazy gas", "it hardly reacts with any other element"),
    ("Potassium", "K", 19, "Humphry Davy", "1807", "potash, the ash of burnt plants", "in fertilisers",
     "It was the first metal to be isolated by electrolysis", "do bananas contain so much potassium", "plants take up potassium from the soil to regulate water"),
    ("Calcium", "Ca", 20, "Humphry Davy", "1808", "the Latin word calx, meaning lime", "in cement and plaster",
     "It is the most abundant metal in the human body, mostly in bones and teeth", "do people need calcium in their diet", "the body uses it to build bones and teeth"),
    ("Titanium", "Ti", 22, "William Gregor", "1791", "the Titans of Greek mythology", "in jet engines and artificial joints",
     "It is as strong as some steels but much lighter", "is titanium used in artificial hips", "it does not corrode and the body tolerates it"),
    ("Iron", "Fe", 26, None, None, "the Latin word ferrum", "to make steel",
     "It is the most common element on Earth by mass, forming much of the planet's core", "does iron rust", "it reacts with oxygen and water"),
    ("Copper", "Cu", 29, None, None, "the Latin name cuprum, after the island of Cyprus", "in electrical wiring",
     "It was one of the first metals that people worked, more than ten thousand years ago", "is copper used in electrical wires", "it conducts electricity very well"),
    ("Silver", "Ag", 47, None, None, "the Latin word argentum", "in jewellery, mirrors and solar cells",
     "It conducts electricity better than any other metal", "does silver turn black over time", "it reacts with sulphur compounds in the air"),
    ("Gold", "Au", 79, None, None, "the Latin word aurum, meaning shining dawn", "in jewellery and electronics",
     "It is so malleable that a single gram can be beaten into a sheet of about one square metre", "does gold keep its shine for centuries", "it hardly reacts with air or water"),
    ("Radium", "Ra", 88, "Marie and Pierre Curie", "1898", "the Latin word radius, meaning ray", "in early cancer treatments",
     "It is intensely radioactive and glows faintly blue in the dark", "did watch makers stop using radium paint", "the radiation harmed the workers who painted the dials"),
    ("Polonium", "Po", 84, "Marie and Pierre Curie", "1898", "Poland, Marie Curie's home country", "in devices that remove static electricity",
     "It was the first element the Curies found while studying the mineral pitchblende", "did the Curies name polonium after Poland", "Poland was Marie Curie's home country"),
    ("Uranium", "U", 92, "Martin Heinrich Klaproth", "1789", "the planet Uranus, discovered eight years earlier", "as fuel in nuclear power stations",
     "It is the heaviest element found in large amounts in nature", "is uranium used in power stations", "its nuclei release a great deal of energy when they split"),
    ("Plutonium", "Pu", 94, "Glenn Seaborg and his team", "1940", "the dwarf planet Pluto", "to power space probes such as Voyager",
     "It is made in nuclear reactors from uranium", "is plutonium used on space probes", "its decay gives off steady heat that can be turned into electricity"),
]

# name, order from the Sun (word), a defining feature sentence, a moon/ring sentence with its QA,
# a discovery or naming sentence with its QA, why clause
PLANETS = [
    ("Mercury", "first", "It is the smallest planet and takes just 88 days to go around the Sun",
     ("How long does Mercury take to orbit the Sun?", "88 days"),
     "It has no moons and almost no atmosphere", ("How many moons does Mercury have?", "no moons"),
     "It is named after the Roman messenger of the gods", ("Who is Mercury named after?", "the Roman messenger of the gods"),
     "do temperatures on Mercury swing so widely", "it has almost no atmosphere to hold heat"),
    ("Venus", "second", "It is the hottest planet, with surface temperatures of about 465 degrees Celsius",
     ("What is the surface temperature of Venus?", "about 465 degrees Celsius"),
     "It spins backwards compared with most planets, and one day there lasts 243 Earth days", ("How long does a day on Venus last?", "243 Earth days"),
     "It is named after the Roman goddess of love and beauty", ("Which goddess is Venus named after?", "the Roman goddess of love and beauty"),
     "is Venus hotter than Mercury", "its thick carbon dioxide atmosphere traps heat"),
    ("Mars", "fourth", "It is called the Red Planet because of the iron oxide dust on its surface",
     ("What gives Mars its red colour?", "the iron oxide dust on its surface"),
     "It has two small moons, Phobos and Deimos, discovered by Asaph Hall in 1877", ("How many moons does Mars have?", "two"),
     "Its volcano Olympus Mons is the tallest known mountain in the solar system", ("What is the tallest known mountain in the solar system?", "Olympus Mons"),
     "is Mars called the Red Planet", "its surface is covered in reddish iron oxide dust"),
    ("Jupiter", "fifth", "It is the largest planet, more than twice as massive as all the others combined",
     ("How massive is Jupiter compared with the other planets?", "more than twice as massive as all the others combined"),
     "Galileo Galilei discovered its four largest moons, Io, Europa, Ganymede and Callisto, in 1610", ("Who discovered the four largest moons of Jupiter?", "Galileo Galilei"),
     "Its Great Red Spot is a storm larger than the Earth that has lasted for centuries", ("What is the Great Red Spot?", "a storm larger than the Earth"),
     "are Jupiter's largest moons called the Galilean moons", "Galileo Galilei discovered them"),
    ("Saturn", "sixth", "It is famous for its bright rings, made mostly of ice and rock",
     ("What are Saturn's rings made of?", "mostly of ice and rock"),
     "Its largest moon, Titan, was discovered by Christiaan Huygens in 1655", ("Who discovered Titan?", "Christiaan Huygens"),
     "It is less dense than water, the only planet that is", ("How does the density of Saturn compare with that of water?", "less dense than water"),
     "could Saturn float in water", "it is less dense than water"),
    ("Uranus", "seventh", "It was discovered by William Herschel in 1781, the first planet found with a telescope",
     ("Who discovered Uranus?", "William Herschel"),
     "Its axis is tilted by about 98 degrees, so it rolls around the Sun on its side", ("By how many degrees is the axis of Uranus tilted?", "about 98 degrees"),
     "It is named after the Greek god of the sky", ("Who is Uranus named after?", "the Greek god of the sky"),
     "do the seasons on Uranus last so long", "its axis is tilted so far that each pole faces the Sun for decades"),
    ("Neptune", "eighth", "It was found in 1846 by Johann Galle, close to where Urbain Le Verrier had predicted it from the motion of Uranus",
     ("When was Neptune found?", "1846"),
     "Its winds are the fastest in the solar system, reaching more than 2,000 kilometres per hour", ("How fast do the winds on Neptune blow?", "more than 2,000 kilometres per hour"),
     "It is named after the Roman god of the sea", ("Who is Neptune named after?", "the Roman god of the sea"),
     "did astronomers suspect that Neptune existed before anyone saw it", "Uranus was being pulled off its predicted path"),
]

# country, capital, continent/region, language sentence (text, answer), currency, landmark (name, what), highest/feature,
# river, history sentence, (history question, answer), why clause pair
COUNTRIES = [
    ("France", "Paris", "Western Europe", "French", "the euro", ("Mont Blanc", "the highest mountain in the Alps"), "the Loire",
     "The French Revolution began in 1789 with the storming of the Bastille", ("When did the French Revolution begin?", "1789"),
     "do so many tourists visit Paris", "the city is known for its museums, its food and landmarks such as the Eiffel Tower"),
    ("Japan", "Tokyo", "East Asia", "Japanese", "the yen", ("Mount Fuji", "a volcano 3,776 metres high"), "the Shinano",
     "In 1964 Tokyo hosted the first Olympic Games held in Asia", ("Which city hosted the first Olympic Games held in Asia?", "Tokyo"),
     "does Japan have so many earthquakes", "it lies where several tectonic plates meet"),
    ("Kenya", "Nairobi", "East Africa", "Swahili and English", "the Kenyan shilling", ("Mount Kenya", "the second highest mountain in Africa"), "the Tana",
     "Kenya became independent from Britain in 1963, with Jomo Kenyatta as its first leader", ("Who was Kenya's first leader after independence?", "Jomo Kenyatta"),
     "do runners from Kenya do so well in long-distance races", "many of them grow up and train at high altitude"),
    ("Peru", "Lima", "South America", "Spanish and Quechua", "the sol", ("Machu Picchu", "a fifteenth-century Inca citadel"), "the Amazon",
     "The Inca Empire, centred on the city of Cusco, was conquered by Spanish forces led by Francisco Pizarro in the 1530s", ("Who led the Spanish forces that conquered the Inca Empire?", "Francisco Pizarro"),
     "is Lima one of the driest capitals in the world", "cold ocean currents along the coast stop rain clouds from forming"),
    ("Canada", "Ottawa", "North America", "English and French", "the Canadian dollar", ("the CN Tower", "a communications tower in Toronto"), "the St. Lawrence",
     "Canada became a self-governing dominion in 1867 through Confederation", ("When did Canada become a self-governing dominion?", "1867"),
     "does Canada have two official languages", "it was shaped by both British and French settlers"),
    ("Australia", "Canberra", "Oceania", "English", "the Australian dollar", ("the Great Barrier Reef", "the world's largest coral reef system"), "the Murray",
     "Canberra was chosen as the capital in 1908 as a compromise between Sydney and Melbourne", ("Why was Canberra chosen as the capital?", "as a compromise between Sydney and Melbourne"),
     "do so many unusual animals live in Australia", "the continent was isolated from the others for millions of years"),
    ("Egypt", "Cairo", "North Africa", "Arabic", "the Egyptian pound", ("the Great Pyramid of Giza", "the oldest of the Seven Wonders of the Ancient World"), "the Nile",
     "The Suez Canal, opened in 1869, links the Mediterranean Sea to the Red Sea", ("Which seas does the Suez Canal link?", "the Mediterranean Sea to the Red Sea"),
     "do most Egyptians live close to the Nile", "the rest of the country is mostly desert"),
    ("Brazil", "Brasília", "South America", "Portuguese", "the real", ("Christ the Redeemer", "a statue above Rio de Janeiro"), "the Amazon",
     "Brasília was built in the late 1950s and became the capital in 1960, replacing Rio de Janeiro", ("Which city did Brasília replace as the capital?", "Rio de Janeiro"),
     "do people in Brazil speak Portuguese", "the country was a Portuguese colony for more than three centuries"),
    ("Norway", "Oslo", "Northern Europe", "Norwegian", "the Norwegian krone", ("the Geirangerfjord", "a narrow fjord lined with waterfalls"), "the Glomma",
     "Norway became fully independent in 1905, when its union with Sweden ended", ("When did Norway's union with Sweden end?", "1905"),
     "does the sun barely set in northern Norway in summer", "the region lies north of the Arctic Circle"),
    ("India", "New Delhi", "South Asia", "Hindi and English", "the Indian rupee", ("the Taj Mahal", "a marble mausoleum in Agra"), "the Ganges",
     "India became independent on 15 August 1947, and Jawaharlal Nehru became its first prime minister", ("Who was India's first prime minister?", "Jawaharlal Nehru"),
     "does much of India depend on the monsoon", "most of the year's rain falls during a few summer months"),
    ("Argentina", "Buenos Aires", "South America", "Spanish", "the Argentine peso", ("Aconcagua", "the highest mountain outside Asia"), "the Paraná",
     "Argentina declared its independence from Spain on 9 July 1816 in the city of Tucumán", ("Where did Argentina declare its independence?", "in the city of Tucumán"),
     "are there so many cattle ranches in Argentina", "the wide grasslands of the Pampas are ideal for grazing"),
    ("Nepal", "Kathmandu", "South Asia", "Nepali", "the Nepalese rupee", ("Mount Everest", "the highest mountain on Earth"), "the Karnali",
     "Nepal became a federal republic in 2008, ending its monarchy", ("When did Nepal become a federal republic?", "2008"),
     "do climbers come to Nepal every spring", "eight of the world's ten highest mountains are there"),
    ("Switzerland", "Bern", "Central Europe", "German, French, Italian and Romansh", "the Swiss franc", ("the Matterhorn", "a pyramid-shaped peak on the Italian border"), "the Rhine",
     "Switzerland has kept a policy of armed neutrality since 1815", ("Since when has Switzerland kept a policy of armed neutrality?", "1815"),
     "are there four national languages in Switzerland", "its regions grew from different language communities"),
    ("Iceland", "Reykjavík", "the North Atlantic", "Icelandic", "the Icelandic króna", ("Vatnajökull", "the largest glacier in Europe outside the Arctic islands"), "the Þjórsá",
     "Its parliament, the Althing, was founded in 930 and is one of the oldest in the world", ("When was the Althing founded?", "930"),
     "does Iceland have so many volcanoes", "it sits on the Mid-Atlantic Ridge where two plates pull apart"),
    ("Mexico", "Mexico City", "North America", "Spanish", "the Mexican peso", ("Chichén Itzá", "a great Maya city on the Yucatán Peninsula"), "the Rio Grande",
     "Mexico City was built on the ruins of Tenochtitlan, the capital of the Aztec Empire", ("What was the capital of the Aztec Empire?", "Tenochtitlan"),
     "is Mexico City slowly sinking", "it was built on an old lake bed and water is pumped from beneath it"),
    ("South Korea", "Seoul", "East Asia", "Korean", "the won", ("Gyeongbokgung", "a royal palace built in 1395"), "the Han",
     "The Korean alphabet, Hangul, was created in the fifteenth century under King Sejong", ("Under which king was Hangul created?", "King Sejong"),
     "was Hangul created", "King Sejong wanted ordinary people to be able to read and write their own language"),
    ("Morocco", "Rabat", "North Africa", "Arabic and Berber", "the Moroccan dirham", ("the Atlas Mountains", "a range that separates the coast from the Sahara"), "the Draa",
     "The University of al-Qarawiyyin in Fez, founded in 859 by Fatima al-Fihri, is often called the oldest existing university", ("Who founded the University of al-Qarawiyyin?", "Fatima al-Fihri"),
     "are the old towns of Morocco full of narrow lanes", "they were built for people on foot and for shade from the sun"),
    ("Chile", "Santiago", "South America", "Spanish", "the Chilean peso", ("the Atacama Desert", "one of the driest places on Earth"), "the Biobío",
     "Chile stretches about 4,300 kilometres from north to south but is on average only 175 kilometres wide", ("How long is Chile from north to south?", "about 4,300 kilometres"),
     "are so many observatories built in the Atacama Desert", "its dry, clear skies are ideal for watching the stars"),
    ("New Zealand", "Wellington", "Oceania", "English, Māori and New Zealand Sign Language", "the New Zealand dollar", ("Aoraki / Mount Cook", "the country's highest mountain"), "the Waikato",
     "In 1893 New Zealand became the first self-governing country to give women the right to vote", ("When did New Zealand give women the right to vote?", "In 1893"),
     "does New Zealand have no native land mammals apart from bats", "the islands separated from other land before mammals could reach them"),
    ("Ghana", "Accra", "West Africa", "English", "the Ghanaian cedi", ("Lake Volta", "one of the largest artificial lakes in the world"), "the Volta",
     "In 1957 Ghana became the first country in sub-Saharan Africa to gain independence from colonial rule, led by Kwame Nkrumah", ("Who led Ghana to independence?", "Kwame Nkrumah"),
     "was the region once called the Gold Coast", "it was a major source of gold"),
    ("Portugal", "Lisbon", "Southern Europe", "Portuguese", "the euro", ("the Belém Tower", "a sixteenth-century fortress on the Tagus"), "the Tagus",
     "A great earthquake destroyed much of Lisbon on 1 November 1755", ("When did the great earthquake destroy much of Lisbon?", "1 November 1755"),
     "did Portuguese sailors explore so much of the world in the fifteenth century", "the crown funded voyages to find a sea route to Asia"),
    ("Thailand", "Bangkok", "Southeast Asia", "Thai", "the baht", ("Wat Arun", "a riverside temple known as the Temple of Dawn"), "the Chao Phraya",
     "Thailand is the only country in Southeast Asia that was never colonised by a European power", ("Which Southeast Asian country was never colonised by a European power?", "Thailand"),
     "is Bangkok prone to flooding", "it lies only a little above sea level on the delta of a large river"),
    ("Poland", "Warsaw", "Central Europe", "Polish", "the złoty", ("Wawel Castle", "the former royal residence in Kraków"), "the Vistula",
     "The old town of Warsaw was rebuilt after the Second World War using old paintings and drawings", ("What did builders use to rebuild the old town of Warsaw?", "old paintings and drawings"),
     "was the old town of Warsaw rebuilt", "it had been almost completely destroyed during the Second World War"),
    ("Vietnam", "Hanoi", "Southeast Asia", "Vietnamese", "the dong", ("Ha Long Bay", "a bay with nearly two thousand limestone islands"), "the Red River",
     "Vietnam is one of the world's largest exporters of coffee and rice", ("What are two of Vietnam's largest exports?", "coffee and rice"),
     "does the Mekong Delta grow so much rice", "the river leaves fertile silt across the flat land each year"),
]

# river/mountain: title, kind, sentences as (text, [(q, a), ...]), why pair
GEOGRAPHY = [
    ("Nile", [
        ("The Nile is about 6,650 kilometres long and has long been called the longest river in the world.", [("How long is the Nile?", "about 6,650 kilometres")]),
        ("Its two main branches, the White Nile and the Blue Nile, meet at Khartoum in Sudan.", [("Where do the White Nile and the Blue Nile meet?", "at Khartoum in Sudan")]),
        ("It flows north and empties into the Mediterranean Sea through a wide delta.", [("Into which sea does the Nile empty?", "the Mediterranean Sea")]),
        ("The Aswan High Dam, finished in 1970, holds back Lake Nasser.", [("When was the Aswan High Dam finished?", "1970"), ("Which lake does the Aswan High Dam hold back?", "Lake Nasser")]),
        ("Before the dam, farmers depended on the yearly flood because it left a layer of fertile black silt on their fields.", [("Why did farmers depend on the Nile's yearly flood?", "because it left a layer of fertile black silt on their fields")]),
    ]),
    ("Amazon River", [
        ("The Amazon carries more water than any other river, about a fifth of all the fresh water that flows into the oceans.", [("How much of the fresh water flowing into the oceans does the Amazon carry?", "about a fifth")]),
        ("It rises in the Andes of Peru and flows east across Brazil to the Atlantic Ocean.", [("Where does the Amazon rise?", "in the Andes of Peru"), ("Into which ocean does the Amazon flow?", "the Atlantic Ocean")]),
        ("The Spanish explorer Francisco de Orellana was the first European to travel its length, in 1542.", [("Who was the first European to travel the length of the Amazon?", "Francisco de Orellana")]),
        ("No bridge crosses the main river, because it runs mostly through thinly populated rainforest and its banks shift with the seasons.", [("Why does no bridge cross the Amazon?", "because it runs mostly through thinly populated rainforest and its banks shift with the seasons")]),
        ("More than three thousand kinds of fish live in its waters, including the piranha and the arapaima.", [("How many kinds of fish live in the Amazon?", "More than three thousand")]),
    ]),
    ("Danube", [
        ("The Danube rises in the Black Forest of Germany and flows about 2,850 kilometres to the Black Sea.", [("Where does the Danube rise?", "in the Black Forest of Germany"), ("Into which sea does the Danube flow?", "the Black Sea")]),
        ("It passes through ten countries, more than any other river in the world.", [("How many countries does the Danube pass through?", "ten")]),
        ("Four capital cities lie on its banks: Vienna, Bratislava, Budapest and Belgrade.", [("Which capital cities lie on the Danube?", "Vienna, Bratislava, Budapest and Belgrade")]),
        ("The composer Johann Strauss II celebrated it in the waltz The Blue Danube in 1866.", [("Who composed The Blue Danube?", "Johann Strauss II")]),
        ("For centuries it formed a frontier of the Roman Empire, because it was wide enough to be easy to defend.", [("Why did the Danube form a frontier of the Roman Empire?", "because it was wide enough to be easy to defend")]),
    ]),
    ("Mississippi River", [
        ("The Mississippi begins at Lake Itasca in Minnesota and flows south to the Gulf of Mexico.", [("Where does the Mississippi begin?", "at Lake Itasca in Minnesota")]),
        ("Together with the Missouri it drains all or part of 31 American states.", [("How many American states does the Mississippi drain?", "31")]),
        ("Mark Twain worked as a steamboat pilot on the river before he became a writer.", [("Who worked as a steamboat pilot on the Mississippi before becoming a writer?", "Mark Twain")]),
        ("New Orleans was founded near its mouth in 1718.", [("Which city was founded near the mouth of the Mississippi in 1718?", "New Orleans")]),
        ("Engineers built long levees along its banks because floods regularly covered the surrounding farmland.", [("Why did engineers build levees along the Mississippi?", "because floods regularly covered the surrounding farmland")]),
    ]),
    ("Yangtze", [
        ("The Yangtze is the longest river in Asia, flowing about 6,300 kilometres from the Tibetan Plateau to the East China Sea.", [("What is the longest river in Asia?", "The Yangtze"), ("Where does the Yangtze rise?", "the Tibetan Plateau")]),
        ("It reaches the sea at Shanghai, one of the busiest ports in the world.", [("Where does the Yangtze reach the sea?", "at Shanghai")]),
        ("The Three Gorges Dam, completed in 2006, is the largest hydroelectric power station in the world.", [("When was the Three Gorges Dam completed?", "2006")]),
        ("The river basin is home to about a third of China's population.", [("How much of China's population lives in the Yangtze basin?", "about a third")]),
        ("The dam was built partly to control floods, because floods on the river had killed hundreds of thousands of people in the twentieth century.", [("Why was the Three Gorges Dam built?", "to control floods")]),
    ]),
    ("Rhine", [
        ("The Rhine rises in the Swiss Alps and flows into the North Sea near Rotterdam.", [("Where does the Rhine rise?", "in the Swiss Alps"), ("Into which sea does the Rhine flow?", "the North Sea")]),
        ("It is about 1,230 kilometres long and forms part of the border between Germany and France.", [("How long is the Rhine?", "about 1,230 kilometres")]),
        ("The Lorelei, a steep rock on its eastern bank, gave its name to a legend about a maiden who lured sailors to their deaths.", [("What is the Lorelei?", "a steep rock on its eastern bank")]),
        ("Barges carry coal, grain and containers on the river, making it one of the busiest waterways in Europe.", [("What do barges carry on the Rhine?", "coal, grain and containers")]),
        ("Many castles stand on its cliffs because local lords once charged tolls to passing ships.", [("Why do many castles stand on the cliffs of the Rhine?", "because local lords once charged tolls to passing ships")]),
    ]),
    ("Ganges", [
        ("The Ganges begins at the Gangotri Glacier in the Himalayas and flows east into the Bay of Bengal.", [("Where does the Ganges begin?", "at the Gangotri Glacier in the Himalayas"), ("Into which bay does the Ganges flow?", "the Bay of Bengal")]),
        ("Hindus consider the river sacred and call it Ganga.", [("What do Hindus call the Ganges?", "Ganga")]),
        ("The city of Varanasi, on its western bank, is one of the oldest continuously inhabited cities in the world.", [("Which city on the Ganges is one of the oldest continuously inhabited cities in the world?", "Varanasi")]),
        ("Together with the Brahmaputra it forms the Sundarbans, the largest mangrove forest on Earth.", [("What is the largest mangrove forest on Earth?", "the Sundarbans")]),
        ("Pilgrims bathe in it because they believe its water washes away sins.", [("Why do pilgrims bathe in the Ganges?", "because they believe its water washes away sins")]),
    ]),
    ("Mekong", [
        ("The Mekong rises on the Tibetan Plateau and flows through six countries before reaching the South China Sea.", [("How many countries does the Mekong flow through?", "six")]),
        ("It forms much of the border between Laos and Thailand.", [("Which two countries does the Mekong separate?", "Laos and Thailand")]),
        ("The Khone Falls in southern Laos are the widest waterfall in the world.", [("What is the widest waterfall in the world?", "The Khone Falls")]),
        ("Its delta in southern Vietnam is called the rice bowl of the country.", [("What is the Mekong Delta called?", "the rice bowl of the country")]),
        ("Fishermen worry about new dams upstream because they block the fish that swim up the river to spawn.", [("Why do fishermen worry about new dams on the Mekong?", "because they block the fish that swim up the river to spawn")]),
    ]),
    ("Volga", [
        ("The Volga is the longest river in Europe, about 3,530 kilometres long.", [("What is the longest river in Europe?", "The Volga")]),
        ("It flows through central Russia and empties into the Caspian Sea.", [("Into which sea does the Volga empty?", "the Caspian Sea")]),
        ("The city of Volgograd, formerly Stalingrad, lies on its western bank.", [("What was Volgograd formerly called?", "Stalingrad")]),
        ("Canals connect it to the Baltic Sea, the White Sea and the Black Sea.", [("Which seas do canals connect the Volga to?", "the Baltic Sea, the White Sea and the Black Sea")]),
        ("Russians call it Mother Volga because it has fed and carried the nation for centuries.", [("Why do Russians call the river Mother Volga?", "because it has fed and carried the nation for centuries")]),
    ]),
    ("Mount Kilimanjaro", [
        ("Kilimanjaro, in Tanzania, is the highest mountain in Africa, rising 5,895 metres above sea level.", [("How high is Kilimanjaro?", "5,895 metres"), ("In which country is Kilimanjaro?", "Tanzania")]),
        ("It is a dormant volcano with three cones: Kibo, Mawenzi and Shira.", [("What are the three cones of Kilimanjaro?", "Kibo, Mawenzi and Shira")]),
        ("Hans Meyer and Ludwig Purtscheller were the first recorded climbers to reach its summit, in 1889.", [("Who were the first recorded climbers to reach the summit of Kilimanjaro?", "Hans Meyer and Ludwig Purtscheller")]),
        ("Its glaciers have shrunk by more than 80 percent in the last century.", [("By how much have the glaciers of Kilimanjaro shrunk?", "more than 80 percent")]),
        ("Climbers pass through five climate zones, from farmland to arctic summit, because the temperature falls as they climb.", [("Why do climbers pass through several climate zones on Kilimanjaro?", "because the temperature falls as they climb")]),
    ]),
    ("Mount Everest", [
        ("Mount Everest, on the border between Nepal and China, is the highest mountain on Earth at 8,849 metres.", [("How high is Mount Everest?", "8,849 metres")]),
        ("Edmund Hillary and Tenzing Norgay first reached its summit on 29 May 1953.", [("Who first reached the summit of Everest?", "Edmund Hillary and Tenzing Norgay"), ("When was Everest first climbed?", "29 May 1953")]),
        ("In Nepal it is called Sagarmatha and in Tibet Chomolungma.", [("What is Everest called in Nepal?", "Sagarmatha")]),
        ("It was named in 1865 after George Everest, a former Surveyor General of India.", [("Who was Mount Everest named after?", "George Everest")]),
        ("Most climbers carry bottled oxygen because the air at the summit holds only a third of the oxygen found at sea level.", [("Why do most climbers on Everest carry bottled oxygen?", "because the air at the summit holds only a third of the oxygen found at sea level")]),
    ]),
    ("Mont Blanc", [
        ("Mont Blanc is the highest mountain in the Alps, on the border between France and Italy.", [("What is the highest mountain in the Alps?", "Mont Blanc")]),
        ("Jacques Balmat and Michel-Gabriel Paccard first climbed it on 8 August 1786.", [("Who first climbed Mont Blanc?", "Jacques Balmat and Michel-Gabriel Paccard")]),
        ("A road tunnel, opened in 1965, runs under the mountain for 11.6 kilometres.", [("How long is the tunnel under Mont Blanc?", "11.6 kilometres")]),
        ("The town of Chamonix at its foot hosted the first Winter Olympic Games in 1924.", [("Which town hosted the first Winter Olympic Games?", "Chamonix")]),
        ("Its name means white mountain, because its summit is covered in snow all year.", [("Why is the mountain called Mont Blanc?", "because its summit is covered in snow all year")]),
    ]),
]

# name, born, birthplace, field, achievement (text, answer-q), prize/other, why
SCIENTISTS = [
    ("Marie Curie", "1867", "Warsaw", "physics and chemistry",
     ("She discovered the elements polonium and radium together with her husband Pierre.", "Which elements did Marie Curie discover?", "polonium and radium"),
     ("She won the Nobel Prize in Physics in 1903 and the Nobel Prize in Chemistry in 1911.", "When did Marie Curie win the Nobel Prize in Chemistry?", "1911"),
     ("She was the first person to win two Nobel Prizes", "What was Marie Curie the first person to do?", "to win two Nobel Prizes"),
     "did Marie Curie move to Paris", "women could not study at the university in Warsaw"),
    ("Albert Einstein", "1879", "Ulm", "theoretical physics",
     ("He published the special theory of relativity in 1905, the year now called his miracle year.", "When did Einstein publish the special theory of relativity?", "1905"),
     ("He received the 1921 Nobel Prize in Physics for explaining the photoelectric effect.", "Why did Einstein receive the Nobel Prize in Physics?", "for explaining the photoelectric effect"),
     ("His equation E = mc2 shows that mass and energy are equivalent", "What does the equation E = mc2 show?", "that mass and energy are equivalent"),
     "did Einstein leave Germany in 1933", "the Nazi government persecuted Jewish scientists"),
    ("Isaac Newton", "1643", "Woolsthorpe in Lincolnshire", "mathematics and physics",
     ("He set out his three laws of motion and the law of universal gravitation in the Principia, published in 1687.", "When was the Principia published?", "1687"),
     ("He built the first practical reflecting telescope in 1668.", "What did Newton build in 1668?", "the first practical reflecting telescope"),
     ("He showed that white light is a mixture of all the colours of the rainbow", "What did Newton show white light to be?", "a mixture of all the colours of the rainbow"),
     "did Newton build a reflecting telescope", "lenses in ordinary telescopes blurred the image with coloured fringes"),
    ("Charles Darwin", "1809", "Shrewsbury", "natural history",
     ("He sailed around the world on HMS Beagle between 1831 and 1836.", "On which ship did Darwin sail around the world?", "HMS Beagle"),
     ("He published On the Origin of Species in 1859.", "When did Darwin publish On the Origin of Species?", "1859"),
     ("His theory of evolution by natural selection explains how species change over many generations", "What does the theory of natural selection explain?", "how species change over many generations"),
     "did the finches of the Galápagos interest Darwin", "their beaks differed from island to island"),
    ("Ada Lovelace", "1815", "London", "mathematics",
     ("She worked with Charles Babbage on his proposed Analytical Engine.", "With whom did Ada Lovelace work?", "Charles Babbage"),
     ("In 1843 she published notes that include what is often called the first computer program.", "When did Ada Lovelace publish her notes?", "1843"),
     ("She was the daughter of the poet Lord Byron", "Who was Ada Lovelace's father?", "the poet Lord Byron"),
     "is Ada Lovelace called the first programmer", "her notes describe an algorithm for the Analytical Engine"),
    ("Alan Turing", "1912", "London", "mathematics and computer science",
     ("In 1936 he described an abstract computing device now called the Turing machine.", "What is the abstract computing device Turing described called?", "the Turing machine"),
     ("During the Second World War he worked at Bletchley Park breaking German codes.", "Where did Turing work during the Second World War?", "at Bletchley Park"),
     ("In 1950 he proposed a test of machine intelligence now known as the Turing test", "When did Turing propose the Turing test?", "1950"),
     "is Turing called a father of computer science", "his machine model defined what can be computed"),
    ("Rosalind Franklin", "1920", "London", "chemistry and X-ray crystallography",
     ("Her X-ray image known as Photo 51, taken in 1952, revealed the helical shape of DNA.", "What did Photo 51 reveal?", "the helical shape of DNA"),
     ("She later studied the structure of viruses, including the tobacco mosaic virus.", "Which virus did Rosalind Franklin study?", "the tobacco mosaic virus"),
     ("She died in 1958 at the age of 37", "How old was Rosalind Franklin when she died?", "37"),
     "did Rosalind Franklin not share the 1962 Nobel Prize", "the prize is not awarded after death"),
    ("Dmitri Mendeleev", "1834", "Tobolsk in Siberia", "chemistry",
     ("He published his periodic table of the elements in 1869.", "When did Mendeleev publish his periodic table?", "1869"),
     ("He left gaps in the table for elements that had not yet been discovered, such as gallium and germanium.", "Which undiscovered elements did Mendeleev leave gaps for?", "gallium and germanium"),
     ("Element 101, mendelevium, is named after him", "Which element is named after Mendeleev?", "Element 101, mendelevium"),
     "did Mendeleev leave gaps in his table", "he was sure that undiscovered elements would fill them"),
    ("Louis Pasteur", "1822", "Dole", "chemistry and microbiology",
     ("He showed that microbes cause fermentation and many diseases.", "What did Pasteur show that microbes cause?", "fermentation and many diseases"),
     ("In 1885 he tested a rabies vaccine on a boy named Joseph Meister.", "Who was the first person Pasteur tested the rabies vaccine on?", "a boy named Joseph Meister"),
     ("Pasteurisation, the gentle heating of milk and wine, is named after him", "What is pasteurisation?", "the gentle heating of milk and wine"),
     "is milk pasteurised", "heating kills the bacteria that would spoil it"),
    ("Gregor Mendel", "1822", "Heinzendorf in Silesia", "biology",
     ("He bred about 28,000 pea plants in the garden of his monastery in Brno.", "How many pea plants did Mendel breed?", "about 28,000"),
     ("He published his laws of inheritance in 1866, but they were ignored until 1900.", "When were Mendel's laws rediscovered?", "1900"),
     ("He is often called the father of genetics", "What is Mendel often called?", "the father of genetics"),
     "did Mendel choose pea plants", "they grow quickly and have traits that are easy to tell apart"),
    ("Nikola Tesla", "1856", "Smiljan", "electrical engineering",
     ("He developed the alternating current induction motor in the 1880s.", "What motor did Tesla develop?", "the alternating current induction motor"),
     ("He worked briefly for Thomas Edison in New York before they fell out.", "For whom did Tesla work briefly in New York?", "Thomas Edison"),
     ("The unit of magnetic flux density, the tesla, is named after him", "What is named after Nikola Tesla?", "The unit of magnetic flux density"),
     "did alternating current win over direct current", "it could be sent over long distances with less loss"),
    ("Grace Hopper", "1906", "New York City", "computer science",
     ("She wrote one of the first compilers, the A-0 system, in 1952.", "When did Grace Hopper write the A-0 system?", "1952"),
     ("Her work led to COBOL, a programming language for business that is still in use.", "Which programming language did Grace Hopper's work lead to?", "COBOL"),
     ("She served in the United States Navy and retired as a rear admiral", "What rank did Grace Hopper retire with?", "rear admiral"),
     "did Grace Hopper want programs written in English words", "she believed more people could then learn to program"),
    ("Galileo Galilei", "1564", "Pisa", "astronomy and physics",
     ("In 1610 he observed four moons orbiting Jupiter through a telescope he had built himself.", "What did Galileo observe in 1610?", "four moons orbiting Jupiter"),
     ("He argued that the Earth moves around the Sun, as Copernicus had proposed.", "Whose idea about the Earth and the Sun did Galileo support?", "Copernicus"),
     ("In 1633 he was tried by the Roman Inquisition and spent the rest of his life under house arrest", "Who tried Galileo in 1633?", "the Roman Inquisition"),
     "was Galileo put on trial", "he defended the view that the Earth moves around the Sun"),
    ("Michael Faraday", "1791", "Newington Butts in London", "physics and chemistry",
     ("He discovered electromagnetic induction in 1831.", "When did Faraday discover electromagnetic induction?", "1831"),
     ("He began his career as an assistant to Humphry Davy at the Royal Institution.", "Whose assistant was Faraday at the start of his career?", "Humphry Davy"),
     ("He started the Christmas Lectures for young people in 1825", "What did Faraday start in 1825?", "the Christmas Lectures for young people"),
     "is Faraday's discovery of induction important", "it is the principle behind every electric generator"),
    ("Alexander Fleming", "1881", "Darvel in Scotland", "microbiology",
     ("He discovered penicillin in 1928 when mould killed the bacteria on a dish he had left out.", "When did Fleming discover penicillin?", "1928"),
     ("He shared the 1945 Nobel Prize in Physiology or Medicine with Howard Florey and Ernst Chain.", "With whom did Fleming share the Nobel Prize?", "Howard Florey and Ernst Chain"),
     ("Penicillin became the first widely used antibiotic", "What did penicillin become?", "the first widely used antibiotic"),
     "did the bacteria on Fleming's dish die", "a mould that had landed on it released a substance that killed them"),
    ("Claude Shannon", "1916", "Petoskey, Michigan", "mathematics and engineering",
     ("In 1948 he published A Mathematical Theory of Communication, which founded information theory.", "Which field did A Mathematical Theory of Communication found?", "information theory"),
     ("He introduced the bit as the basic unit of information.", "What did Shannon introduce as the basic unit of information?", "the bit"),
     ("He also built a mechanical mouse named Theseus that could learn its way through a maze", "What was Shannon's mechanical mouse called?", "Theseus"),
     "is Shannon called the father of information theory", "his 1948 paper founded the field"),
    ("Katherine Johnson", "1918", "White Sulphur Springs, West Virginia", "mathematics",
     ("She calculated the flight paths for NASA's early crewed missions.", "What did Katherine Johnson calculate for NASA?", "the flight paths for NASA's early crewed missions"),
     ("John Glenn asked her to check the computer's figures before his orbital flight in 1962.", "Who asked Katherine Johnson to check the computer's figures?", "John Glenn"),
     ("She received the Presidential Medal of Freedom in 2015", "When did Katherine Johnson receive the Presidential Medal of Freedom?", "2015"),
     "did John Glenn ask for Katherine Johnson's check", "he trusted her calculations more than the new electronic computer"),
    ("Edwin Hubble", "1889", "Marshfield, Missouri", "astronomy",
     ("He showed in 1924 that the Andromeda nebula is a galaxy far beyond the Milky Way.", "What did Hubble show the Andromeda nebula to be?", "a galaxy far beyond the Milky Way"),
     ("In 1929 he found that more distant galaxies are moving away faster, evidence that the universe is expanding.", "What did Hubble's 1929 finding show about the universe?", "that the universe is expanding"),
     ("The Hubble Space Telescope, launched in 1990, is named after him", "When was the Hubble Space Telescope launched?", "1990"),
     "do distant galaxies look redder", "they are moving away from us and their light is stretched"),
    ("Srinivasa Ramanujan", "1887", "Erode in southern India", "mathematics",
     ("Largely self-taught, he sent his results to the mathematician G. H. Hardy in Cambridge in 1913.", "To whom did Ramanujan send his results in 1913?", "G. H. Hardy"),
     ("He compiled nearly 3,900 results, mostly identities and equations.", "How many results did Ramanujan compile?", "nearly 3,900"),
     ("The number 1729 is known as the Hardy-Ramanujan number", "Which number is known as the Hardy-Ramanujan number?", "1729"),
     "did Ramanujan return to India in 1919", "he had fallen seriously ill in England"),
    ("Lise Meitner", "1878", "Vienna", "physics",
     ("With her nephew Otto Frisch she explained nuclear fission in 1939.", "With whom did Lise Meitner explain nuclear fission?", "her nephew Otto Frisch"),
     ("She worked with the chemist Otto Hahn in Berlin for about thirty years.", "Which chemist did Lise Meitner work with in Berlin?", "Otto Hahn"),
     ("Element 109, meitnerium, is named in her honour", "Which element is named after Lise Meitner?", "Element 109, meitnerium"),
     "did Lise Meitner flee Germany in 1938", "she was of Jewish descent and no longer safe"),
]

# events/inventions: title, sentences
EVENTS = [
    ("Printing press", [
        ("Johannes Gutenberg developed a printing press with movable metal type in Mainz around 1440.", [("Who developed the printing press with movable metal type?", "Johannes Gutenberg"), ("Where did Gutenberg develop his printing press?", "in Mainz")]),
        ("His most famous book, the Gutenberg Bible, was printed in the 1450s.", [("What is Gutenberg's most famous book?", "the Gutenberg Bible")]),
        ("By 1500 presses in more than two hundred European cities had printed millions of books.", [("How many European cities had printing presses by 1500?", "more than two hundred")]),
        ("Books became much cheaper because a press could produce in a day what a scribe copied in a year.", [("Why did books become cheaper after the printing press?", "because a press could produce in a day what a scribe copied in a year")]),
    ]),
    ("Telephone", [
        ("Alexander Graham Bell received a patent for the telephone on 7 March 1876.", [("Who received a patent for the telephone?", "Alexander Graham Bell"), ("When did Bell receive his telephone patent?", "7 March 1876")]),
        ("His first words over the line were spoken to his assistant, Thomas Watson.", [("Who was Bell's assistant?", "Thomas Watson")]),
        ("Elisha Gray filed a similar design at the patent office on the same day.", [("Who filed a similar telephone design on the same day as Bell?", "Elisha Gray")]),
        ("Bell had been working on ways to help deaf people, because his mother and his wife were both deaf.", [("Why was Bell interested in helping deaf people?", "because his mother and his wife were both deaf")]),
    ]),
    ("First powered flight", [
        ("Orville and Wilbur Wright made the first controlled, powered aeroplane flight on 17 December 1903.", [("Who made the first controlled, powered aeroplane flight?", "Orville and Wilbur Wright"), ("When was the first powered aeroplane flight?", "17 December 1903")]),
        ("The flight took place near Kitty Hawk, North Carolina, and lasted 12 seconds.", [("Where did the first powered flight take place?", "near Kitty Hawk, North Carolina"), ("How long did the first powered flight last?", "12 seconds")]),
        ("The brothers ran a bicycle shop in Dayton, Ohio, which paid for their experiments.", [("What business did the Wright brothers run?", "a bicycle shop")]),
        ("They chose Kitty Hawk because its steady winds and soft sand dunes suited gliding tests.", [("Why did the Wright brothers choose Kitty Hawk?", "because its steady winds and soft sand dunes suited gliding tests")]),
    ]),
    ("Apollo 11", [
        ("Apollo 11 landed on the Moon on 20 July 1969.", [("When did Apollo 11 land on the Moon?", "20 July 1969")]),
        ("Neil Armstrong and Buzz Aldrin walked on the surface while Michael Collins stayed in orbit.", [("Who stayed in orbit during the Apollo 11 landing?", "Michael Collins")]),
        ("Their lunar module, named Eagle, touched down in the Sea of Tranquility.", [("What was the Apollo 11 lunar module named?", "Eagle"), ("Where did the Eagle touch down?", "in the Sea of Tranquility")]),
        ("The astronauts brought back 21.5 kilograms of lunar rock and soil.", [("How much lunar rock and soil did Apollo 11 bring back?", "21.5 kilograms")]),
        ("The landing was tense because the computer raised alarms and fuel was running low.", [("Why was the Apollo 11 landing tense?", "because the computer raised alarms and fuel was running low")]),
    ]),
    ("Magna Carta", [
        ("King John of England agreed to the Magna Carta at Runnymede in June 1215.", [("Which king agreed to the Magna Carta?", "King John of England"), ("Where was the Magna Carta agreed?", "at Runnymede")]),
        ("The charter was drawn up by rebel barons and the Archbishop of Canterbury, Stephen Langton.", [("Which archbishop helped draw up the Magna Carta?", "Stephen Langton")]),
        ("Four copies of the 1215 charter survive today.", [("How many copies of the 1215 charter survive?", "Four")]),
        ("The barons demanded it because the king had raised heavy taxes to pay for failed wars in France.", [("Why did the barons demand the Magna Carta?", "because the king had raised heavy taxes to pay for failed wars in France")]),
    ]),
    ("Suez Canal", [
        ("The Suez Canal opened in November 1869 after ten years of construction.", [("When did the Suez Canal open?", "November 1869")]),
        ("The French diplomat Ferdinand de Lesseps led the company that built it.", [("Who led the company that built the Suez Canal?", "Ferdinand de Lesseps")]),
        ("It is about 193 kilometres long and has no locks.", [("How long is the Suez Canal?", "about 193 kilometres")]),
        ("Ships use it because it saves them the long voyage around the southern tip of Africa.", [("Why do ships use the Suez Canal?", "because it saves them the long voyage around the southern tip of Africa")]),
    ]),
    ("Panama Canal", [
        ("The Panama Canal opened on 15 August 1914 and links the Atlantic and Pacific Oceans.", [("When did the Panama Canal open?", "15 August 1914"), ("Which oceans does the Panama Canal link?", "the Atlantic and Pacific Oceans")]),
        ("A French attempt led by Ferdinand de Lesseps failed in the 1880s, defeated by disease and landslides.", [("What defeated the French attempt to build the Panama Canal?", "disease and landslides")]),
        ("Ships are raised 26 metres by locks to Gatun Lake and lowered again on the other side.", [("How high do the locks raise ships?", "26 metres")]),
        ("The canal needs locks because the land it crosses rises well above sea level.", [("Why does the Panama Canal need locks?", "because the land it crosses rises well above sea level")]),
    ]),
    ("World Wide Web", [
        ("Tim Berners-Lee proposed the World Wide Web in 1989 while working at CERN near Geneva.", [("Who proposed the World Wide Web?", "Tim Berners-Lee"), ("Where was Berners-Lee working when he proposed the Web?", "at CERN near Geneva")]),
        ("He wrote the first web browser, called WorldWideWeb, in 1990.", [("What was the first web browser called?", "WorldWideWeb")]),
        ("The first website went online in 1991 and explained how the web worked.", [("When did the first website go online?", "1991")]),
        ("CERN released the web's software into the public domain in 1993, so anyone could use it without paying.", [("Why could anyone use the web's software without paying?", "CERN released the web's software into the public domain")]),
    ]),
    ("Sputnik 1", [
        ("The Soviet Union launched Sputnik 1, the first artificial satellite, on 4 October 1957.", [("When was Sputnik 1 launched?", "4 October 1957"), ("Which country launched Sputnik 1?", "The Soviet Union")]),
        ("It was a polished metal sphere 58 centimetres wide with four long radio antennas.", [("How wide was Sputnik 1?", "58 centimetres")]),
        ("It orbited the Earth for three months before burning up in the atmosphere.", [("How long did Sputnik 1 orbit the Earth?", "three months")]),
        ("Its launch alarmed the United States because it showed Soviet rockets could reach any place on Earth.", [("Why did the launch of Sputnik alarm the United States?", "because it showed Soviet rockets could reach any place on Earth")]),
    ]),
    ("Great Fire of London", [
        ("The Great Fire of London began on 2 September 1666 in a bakery on Pudding Lane.", [("Where did the Great Fire of London begin?", "in a bakery on Pudding Lane"), ("When did the Great Fire of London begin?", "2 September 1666")]),
        ("It burned for four days and destroyed about 13,200 houses and 87 parish churches.", [("How many houses did the Great Fire destroy?", "about 13,200"), ("For how many days did the Great Fire burn?", "four days")]),
        ("Christopher Wren designed the new St Paul's Cathedral after the fire.", [("Who designed the new St Paul's Cathedral?", "Christopher Wren")]),
        ("The fire spread quickly because the houses were built of timber and the summer had been dry.", [("Why did the Great Fire spread so quickly?", "because the houses were built of timber and the summer had been dry")]),
    ]),
    ("Eiffel Tower", [
        ("The Eiffel Tower was completed in 1889 as the entrance arch to the World's Fair in Paris.", [("When was the Eiffel Tower completed?", "1889")]),
        ("It was built by the company of the engineer Gustave Eiffel.", [("Whose company built the Eiffel Tower?", "the engineer Gustave Eiffel")]),
        ("It was the tallest man-made structure in the world for 41 years.", [("For how many years was the Eiffel Tower the tallest man-made structure?", "41 years")]),
        ("It was saved from demolition in 1909 because its radio antenna had become useful to the army.", [("Why was the Eiffel Tower saved from demolition?", "because its radio antenna had become useful to the army")]),
    ]),
    ("Rosetta Stone", [
        ("French soldiers found the Rosetta Stone in 1799 near the town of Rashid in Egypt.", [("Who found the Rosetta Stone?", "French soldiers"), ("When was the Rosetta Stone found?", "1799")]),
        ("It carries the same decree in three scripts: hieroglyphic, Demotic and ancient Greek.", [("In which scripts is the Rosetta Stone written?", "hieroglyphic, Demotic and ancient Greek"), ("How many scripts are on the Rosetta Stone?", "three")]),
        ("Jean-François Champollion announced that he had deciphered the hieroglyphs in 1822.", [("Who deciphered the hieroglyphs?", "Jean-François Champollion")]),
        ("It was the key to hieroglyphs because scholars could already read the Greek version of the text.", [("Why was the Rosetta Stone the key to hieroglyphs?", "because scholars could already read the Greek version of the text")]),
    ]),
    ("Transistor", [
        ("John Bardeen, Walter Brattain and William Shockley invented the transistor at Bell Labs in 1947.", [("Where was the transistor invented?", "at Bell Labs"), ("When was the transistor invented?", "1947")]),
        ("The three shared the Nobel Prize in Physics in 1956.", [("When did the inventors of the transistor share the Nobel Prize?", "1956")]),
        ("A modern processor contains billions of transistors on a chip the size of a fingernail.", [("How many transistors does a modern processor contain?", "billions")]),
        ("Transistors replaced vacuum tubes because they were smaller, cheaper and far more reliable.", [("Why did transistors replace vacuum tubes?", "because they were smaller, cheaper and far more reliable")]),
    ]),
    ("Human Genome Project", [
        ("The Human Genome Project began in 1990 and was declared complete in April 2003.", [("When did the Human Genome Project begin?", "1990")]),
        ("It mapped the roughly three billion letters of human DNA.", [("How many letters does human DNA have?", "roughly three billion")]),
        ("Laboratories in six countries, including the United States and the United Kingdom, took part.", [("How many countries took part in the Human Genome Project?", "six")]),
        ("It finished early partly because sequencing machines became much faster during the 1990s.", [("Why did the Human Genome Project finish early?", "because sequencing machines became much faster during the 1990s")]),
    ]),
    ("Battle of Hastings", [
        ("The Battle of Hastings was fought on 14 October 1066.", [("When was the Battle of Hastings fought?", "14 October 1066")]),
        ("William, Duke of Normandy, defeated the English king Harold II.", [("Who defeated Harold II at Hastings?", "William, Duke of Normandy")]),
        ("The Bayeux Tapestry, about 70 metres long, tells the story of the conquest.", [("What tells the story of the Norman conquest?", "The Bayeux Tapestry")]),
        ("Harold's army was tired because it had just marched south after defeating a Norwegian invasion at Stamford Bridge.", [("Why was Harold's army tired at Hastings?", "because it had just marched south after defeating a Norwegian invasion at Stamford Bridge")]),
    ]),
]

# Programming languages: name, creator, year, where, what/why sentences
LANGUAGES = [
    ("Python", "Guido van Rossum", "1991", "at the Centrum Wiskunde & Informatica in the Netherlands",
     "Its name comes from the comedy group Monty Python, not from the snake", ("Where does the name Python come from?", "the comedy group Monty Python"),
     "It uses indentation to mark blocks of code", ("What does Python use to mark blocks of code?", "indentation"),
     "is Python popular in data science", "it has libraries such as NumPy and pandas and is easy to read"),
    ("C", "Dennis Ritchie", "1972", "at Bell Labs",
     "It was created to rewrite the Unix operating system", ("What was C created to rewrite?", "the Unix operating system"),
     "The book The C Programming Language, written by Brian Kernighan and Ritchie, appeared in 1978", ("Who wrote The C Programming Language with Ritchie?", "Brian Kernighan"),
     "is C still used for operating systems", "it gives close control over memory and hardware"),
    ("Java", "James Gosling", "1995", "at Sun Microsystems",
     "Its motto was write once, run anywhere", ("What was Java's motto?", "write once, run anywhere"),
     "It was first called Oak, after a tree outside Gosling's office", ("What was Java first called?", "Oak"),
     "can Java programs run on many kinds of computer", "they are compiled to bytecode for the Java virtual machine"),
    ("JavaScript", "Brendan Eich", "1995", "at Netscape",
     "He wrote the first version in about ten days", ("How long did it take to write the first version of JavaScript?", "about ten days"),
     "Despite its name, it is not closely related to Java", ("Is JavaScript closely related to Java?", "not closely related to Java"),
     "does every web browser run JavaScript", "it became the standard language for interactive web pages"),
    ("Rust", "Graydon Hoare", "2012", "at Mozilla Research",
     "Version 1.0 was released in May 2015", ("When was Rust 1.0 released?", "May 2015"),
     "Its compiler checks ownership and borrowing rules to prevent memory errors", ("What does the Rust compiler check to prevent memory errors?", "ownership and borrowing rules"),
     "do developers choose Rust for system software", "it is fast like C but prevents many memory bugs at compile time"),
    ("Go", "Robert Griesemer, Rob Pike and Ken Thompson", "2009", "at Google",
     "It was designed to compile quickly and to make concurrent programs simple", ("What was Go designed to make simple?", "concurrent programs"),
     "Its lightweight threads are called goroutines", ("What are Go's lightweight threads called?", "goroutines"),
     "did Google create Go", "its engineers were frustrated by slow builds of large C++ programs"),
    ("Fortran", "John Backus", "1957", "at IBM",
     "Its name is short for formula translation", ("What is the name Fortran short for?", "formula translation"),
     "It was one of the first high-level programming languages", ("What was Fortran one of the first of?", "high-level programming languages"),
     "is Fortran still used for weather forecasts", "its compilers produce very fast numerical code"),
    ("Lisp", "John McCarthy", "1958", "at the Massachusetts Institute of Technology",
     "Its programs are written as nested lists in parentheses", ("How are Lisp programs written?", "as nested lists in parentheses"),
     "It was long the favourite language of artificial intelligence research", ("Which research field long favoured Lisp?", "artificial intelligence research"),
     "can Lisp programs easily write other programs", "code and data share the same list structure"),
    ("R", "Ross Ihaka and Robert Gentleman", "1993", "at the University of Auckland",
     "It was modelled on the S language from Bell Labs", ("Which language was R modelled on?", "the S language from Bell Labs"),
     "Its packages are shared through the Comprehensive R Archive Network, known as CRAN", ("How are R packages shared?", "through the Comprehensive R Archive Network"),
     "do statisticians like R", "it was built for data analysis and has thousands of statistical packages"),
    ("Julia", "Jeff Bezanson, Stefan Karpinski, Viral Shah and Alan Edelman", "2012", "at the Massachusetts Institute of Technology",
     "It compiles code just in time through the LLVM compiler framework", ("Through which framework does Julia compile code?", "the LLVM compiler framework"),
     "Its name was chosen without any particular meaning", ("What does the name Julia mean?", "without any particular meaning"),
     "was Julia created", "its authors wanted a language as easy as Python and as fast as C"),
]

# Software and ML libraries: title, sentences
LIBRARIES = [
    ("Hugging Face Transformers", [
        ("🤗 Transformers is an open-source library that gives access to thousands of pretrained models for text, images and audio.", [("What does 🤗 Transformers give access to?", "thousands of pretrained models")]),
        ("It is backed by the three most popular deep learning libraries — Jax, PyTorch and TensorFlow — and a model trained with one can be loaded with another.", [("Which deep learning libraries back 🤗 Transformers?", "Jax, PyTorch and TensorFlow"), ("How many deep learning libraries back 🤗 Transformers?", "three")]),
        ("The company Hugging Face, founded in New York in 2016, maintains it.", [("Which company maintains 🤗 Transformers?", "Hugging Face"), ("Where was Hugging Face founded?", "in New York")]),
        ("It started in 2018 as a PyTorch port of Google's BERT model called pytorch-pretrained-bert.", [("What was the library called when it started?", "pytorch-pretrained-bert")]),
        ("It is released under the Apache 2.0 licence, so companies can use it in their products.", [("Under which licence is 🤗 Transformers released?", "the Apache 2.0 licence")]),
        ("People use its pipeline function because it hides tokenisation, the model and post-processing behind one call.", [("Why do people use the pipeline function?", "because it hides tokenisation, the model and post-processing behind one call")]),
    ]),
    ("Keras", [
        ("Keras is a high-level deep learning library written in Python by François Chollet and first released in 2015.", [("Who wrote Keras?", "François Chollet"), ("When was Keras first released?", "2015")]),
        ("Keras 3 runs on top of three backends — JAX, TensorFlow and PyTorch — so the same model code works with each of them.", [("Which backends does Keras 3 run on?", "JAX, TensorFlow and PyTorch"), ("How many backends does Keras 3 run on?", "three")]),
        ("Its name means horn in ancient Greek, a reference to a passage in the Odyssey.", [("What does the name Keras mean?", "horn")]),
        ("Beginners like it because a model can be defined, trained and evaluated in a few lines.", [("Why do beginners like Keras?", "because a model can be defined, trained and evaluated in a few lines")]),
    ]),
    ("PyTorch", [
        ("PyTorch is a deep learning framework first released by Facebook's AI research lab in 2016.", [("Who first released PyTorch?", "Facebook's AI research lab")]),
        ("It grew out of Torch, an older scientific computing library written in the Lua language.", [("What library did PyTorch grow out of?", "Torch"), ("In which language was Torch written?", "the Lua language")]),
        ("In 2022 it moved to the PyTorch Foundation, part of the Linux Foundation.", [("Which foundation does PyTorch belong to?", "the PyTorch Foundation")]),
        ("Researchers adopted it quickly because its graphs are built on the fly as ordinary Python code runs.", [("Why did researchers adopt PyTorch quickly?", "because its graphs are built on the fly as ordinary Python code runs")]),
        ("Its autograd engine records operations on tensors and computes gradients automatically.", [("What does the autograd engine compute?", "gradients")]),
    ]),
    ("TensorFlow", [
        ("TensorFlow is a machine learning platform developed by the Google Brain team and released in November 2015.", [("Which team developed TensorFlow?", "the Google Brain team"), ("When was TensorFlow released?", "November 2015")]),
        ("It is named after the tensors, or multi-dimensional arrays, that flow through its computation graphs.", [("What is TensorFlow named after?", "the tensors, or multi-dimensional arrays, that flow through its computation graphs")]),
        ("TensorFlow Lite runs models on phones and small devices.", [("What runs TensorFlow models on phones?", "TensorFlow Lite")]),
        ("Google designed special chips called tensor processing units to run it faster.", [("What chips did Google design to run TensorFlow faster?", "tensor processing units")]),
    ]),
    ("JAX", [
        ("JAX is a Python library from Google for high-performance numerical computing.", [("Which company makes JAX?", "Google")]),
        ("It offers composable function transformations such as grad, jit and vmap.", [("Which function transformations does JAX offer?", "grad, jit and vmap")]),
        ("It uses the XLA compiler to run the same code on CPUs, GPUs and TPUs.", [("Which compiler does JAX use?", "the XLA compiler")]),
        ("Libraries such as Flax and Optax are built on top of JAX.", [("Which libraries are built on top of JAX?", "Flax and Optax")]),
        ("JAX arrays cannot be changed in place, because its transformations assume pure functions.", [("Why can JAX arrays not be changed in place?", "because its transformations assume pure functions")]),
    ]),
    ("NumPy", [
        ("NumPy is the fundamental package for numerical computing in Python.", [("What is NumPy?", "the fundamental package for numerical computing in Python")]),
        ("Travis Oliphant created it in 2005 by merging two earlier libraries, Numeric and Numarray.", [("Who created NumPy?", "Travis Oliphant"), ("Which two libraries were merged to create NumPy?", "Numeric and Numarray")]),
        ("Its central object is the ndarray, an n-dimensional array of items of the same type.", [("What is NumPy's central object?", "the ndarray")]),
        ("Loops over NumPy arrays run fast because the work happens in compiled C code rather than in Python.", [("Why do operations on NumPy arrays run fast?", "because the work happens in compiled C code rather than in Python")]),
        ("It is distributed under the BSD licence.", [("Under which licence is NumPy distributed?", "the BSD licence")]),
    ]),
    ("pandas", [
        ("pandas is a Python library for data analysis that Wes McKinney started in 2008.", [("Who started pandas?", "Wes McKinney"), ("When was pandas started?", "2008")]),
        ("It is built on top of NumPy and provides the DataFrame, a table with labelled rows and columns.", [("What is pandas built on top of?", "NumPy"), ("What is a DataFrame?", "a table with labelled rows and columns")]),
        ("The name comes from panel data, a term used in economics.", [("Where does the name pandas come from?", "panel data")]),
        ("McKinney wrote it while working at the investment firm AQR Capital Management, because he needed better tools for financial data.", [("Why did McKinney write pandas?", "because he needed better tools for financial data")]),
    ]),
    ("scikit-learn", [
        ("scikit-learn is a machine learning library for Python built on NumPy, SciPy and matplotlib.", [("Which libraries is scikit-learn built on?", "NumPy, SciPy and matplotlib")]),
        ("It began in 2007 as a Google Summer of Code project by David Cournapeau.", [("Who started scikit-learn?", "David Cournapeau"), ("When did scikit-learn begin?", "2007")]),
        ("Every model offers the same fit and predict methods.", [("Which methods does every scikit-learn model offer?", "fit and predict")]),
        ("Much of its development was led by researchers at Inria, the French national institute for computer science.", [("Which institute led much of scikit-learn's development?", "Inria")]),
        ("Teachers like it because its consistent interface lets students swap one model for another in a single line.", [("Why do teachers like scikit-learn?", "because its consistent interface lets students swap one model for another in a single line")]),
    ]),
    ("matplotlib", [
        ("matplotlib is a plotting library for Python created by John D. Hunter in 2003.", [("Who created matplotlib?", "John D. Hunter")]),
        ("Its pyplot interface was modelled on the plotting commands of MATLAB.", [("Which software was matplotlib's pyplot interface modelled on?", "MATLAB")]),
        ("It can save figures as PNG, PDF and SVG files.", [("In which formats can matplotlib save figures?", "PNG, PDF and SVG")]),
        ("Hunter wrote it because he wanted to plot brain recordings of epilepsy patients without a commercial licence.", [("Why did Hunter write matplotlib?", "because he wanted to plot brain recordings of epilepsy patients without a commercial licence")]),
    ]),
    ("seaborn", [
        ("seaborn is a Python library for statistical graphics written by Michael Waskom.", [("Who wrote seaborn?", "Michael Waskom")]),
        ("It is based on matplotlib and works closely with pandas data structures.", [("Which library is seaborn based on?", "matplotlib")]),
        ("It can draw a violin plot, a heat map or a pair plot with one function call.", [("What can seaborn draw with one function call?", "a violin plot, a heat map or a pair plot")]),
        ("Analysts use it because its default styles make charts readable without extra settings.", [("Why do analysts use seaborn?", "because its default styles make charts readable without extra settings")]),
    ]),
    ("Hugging Face Datasets", [
        ("🤗 Datasets is a library for loading and processing datasets, released by Hugging Face in 2020.", [("When was 🤗 Datasets released?", "2020")]),
        ("It is backed by Apache Arrow, a columnar memory format, and memory-maps its data from disk.", [("What is 🤗 Datasets backed by?", "Apache Arrow")]),
        ("Its map method applies a function to every example, optionally in batches and in several processes.", [("What does the map method do?", "applies a function to every example")]),
        ("It can handle datasets larger than memory because data stays on disk until it is read.", [("Why can 🤗 Datasets handle datasets larger than memory?", "because data stays on disk until it is read")]),
    ]),
    ("Hugging Face Tokenizers", [
        ("🤗 Tokenizers is a library of fast tokenizers written in Rust, with bindings for Python and Node.js.", [("In which language is 🤗 Tokenizers written?", "Rust"), ("Which languages have bindings for 🤗 Tokenizers?", "Python and Node.js")]),
        ("It can tokenise a gigabyte of text in less than twenty seconds on a server CPU.", [("How long does 🤗 Tokenizers take to tokenise a gigabyte of text?", "less than twenty seconds")]),
        ("It keeps track of offsets, so every token can be mapped back to the characters it came from.", [("Why can every token be mapped back to its characters?", "It keeps track of offsets")]),
        ("Its tokenizers come in four parts: a normaliser, a pre-tokeniser, a model and a post-processor.", [("How many parts do its tokenizers have?", "four parts")]),
    ]),
    ("Hugging Face Accelerate", [
        ("🤗 Accelerate is a library that runs the same PyTorch training loop on one GPU, several GPUs or TPUs.", [("On what hardware can 🤗 Accelerate run the same training loop?", "one GPU, several GPUs or TPUs")]),
        ("It is built on top of PyTorch and needs only a few changed lines in an existing loop.", [("What is 🤗 Accelerate built on top of?", "PyTorch")]),
        ("Its accelerate launch command starts one process per device.", [("What does the accelerate launch command start?", "one process per device")]),
        ("Researchers use it because they keep full control of their loop while it handles devices and mixed precision.", [("Why do researchers use 🤗 Accelerate?", "because they keep full control of their loop while it handles devices and mixed precision")]),
    ]),
    ("spaCy", [
        ("spaCy is a library for industrial-strength natural language processing, first released in 2015.", [("When was spaCy first released?", "2015")]),
        ("It was created by Matthew Honnibal and Ines Montani, the founders of the company Explosion.", [("Who created spaCy?", "Matthew Honnibal and Ines Montani"), ("Which company did spaCy's creators found?", "Explosion")]),
        ("It is written in Python and Cython and released under the MIT licence.", [("In which languages is spaCy written?", "Python and Cython")]),
        ("It is fast because its core data structures are compiled with Cython.", [("Why is spaCy fast?", "because its core data structures are compiled with Cython")]),
    ]),
    ("NLTK", [
        ("The Natural Language Toolkit, or NLTK, was created in 2001 by Steven Bird and Edward Loper.", [("Who created NLTK?", "Steven Bird and Edward Loper"), ("When was NLTK created?", "2001")]),
        ("It was first developed at the University of Pennsylvania for a course in computational linguistics.", [("Where was NLTK first developed?", "at the University of Pennsylvania")]),
        ("It ships with more than fifty corpora and lexical resources such as WordNet.", [("Which lexical resource does NLTK ship with?", "WordNet")]),
        ("It is popular in teaching because a free book explains each of its tools.", [("Why is NLTK popular in teaching?", "because a free book explains each of its tools")]),
    ]),
    ("Apache Arrow", [
        ("Apache Arrow is a columnar in-memory format for tabular data, launched in 2016.", [("When was Apache Arrow launched?", "2016")]),
        ("Wes McKinney, the creator of pandas, was one of its co-founders.", [("Which creator of pandas co-founded Apache Arrow?", "Wes McKinney")]),
        ("Libraries such as Polars, DuckDB and 🤗 Datasets use it to share data without copying.", [("Which libraries use Apache Arrow?", "Polars, DuckDB and 🤗 Datasets")]),
        ("Columnar storage is fast for analysis because a query reads only the columns it needs.", [("Why is columnar storage fast for analysis?", "because a query reads only the columns it needs")]),
    ]),
    ("Polars", [
        ("Polars is a DataFrame library written in Rust by Ritchie Vink, who started it in 2020.", [("Who started Polars?", "Ritchie Vink"), ("In which language is Polars written?", "Rust")]),
        ("It is backed by the Apache Arrow memory format.", [("Which memory format backs Polars?", "the Apache Arrow memory format")]),
        ("Its lazy mode builds a query plan and optimises it before running anything.", [("What does the lazy mode of Polars build?", "a query plan")]),
        ("It is often faster than pandas because it runs queries on all CPU cores.", [("Why is Polars often faster than pandas?", "because it runs queries on all CPU cores")]),
    ]),
    ("XGBoost", [
        ("XGBoost is a library for gradient boosted decision trees started by Tianqi Chen in 2014.", [("Who started XGBoost?", "Tianqi Chen")]),
        ("Its name stands for extreme gradient boosting.", [("What does the name XGBoost stand for?", "extreme gradient boosting")]),
        ("It has interfaces for Python, R, Java and several other languages.", [("Which languages does XGBoost have interfaces for?", "Python, R, Java and several other languages")]),
        ("It became famous because many winning solutions in machine learning competitions used it.", [("Why did XGBoost become famous?", "because many winning solutions in machine learning competitions used it")]),
    ]),
    ("Project Jupyter", [
        ("Project Jupyter grew out of IPython in 2014, led by Fernando Pérez and Brian Granger.", [("Which project did Jupyter grow out of?", "IPython"), ("Who led Project Jupyter?", "Fernando Pérez and Brian Granger")]),
        ("Its name refers to three core languages: Julia, Python and R.", [("Which three languages does the name Jupyter refer to?", "Julia, Python and R")]),
        ("A notebook mixes code, results and explanations in one document.", [("What does a Jupyter notebook mix?", "code, results and explanations")]),
        ("Teachers like notebooks because students can run each step and see its result at once.", [("Why do teachers like notebooks?", "because students can run each step and see its result at once")]),
    ]),
    ("Git", [
        ("Git is a distributed version control system that Linus Torvalds wrote in 2005.", [("Who wrote Git?", "Linus Torvalds"), ("When was Git written?", "2005")]),
        ("He wrote it for the development of the Linux kernel after the team lost free access to BitKeeper.", [("What did the Linux team lose free access to?", "BitKeeper")]),
        ("Every clone holds the full history of the project.", [("What does every Git clone hold?", "the full history of the project")]),
        ("Branches are cheap in Git because a branch is only a pointer to a commit.", [("Why are branches cheap in Git?", "because a branch is only a pointer to a commit")]),
    ]),
    ("Linux", [
        ("Linus Torvalds began the Linux kernel in 1991 as a student at the University of Helsinki.", [("Where was Torvalds a student when he began Linux?", "at the University of Helsinki"), ("When did Torvalds begin the Linux kernel?", "1991")]),
        ("It is released under version 2 of the GNU General Public License.", [("Under which licence is Linux released?", "version 2 of the GNU General Public License")]),
        ("Android phones and nearly all of the world's supercomputers run on Linux.", [("Which phones run on Linux?", "Android phones")]),
        ("Companies contribute to it because sharing the cost of one kernel is cheaper than each writing their own.", [("Why do companies contribute to Linux?", "because sharing the cost of one kernel is cheaper than each writing their own")]),
    ]),
    ("Dask", [
        ("Dask is a Python library for parallel computing started by Matthew Rocklin in 2014.", [("Who started Dask?", "Matthew Rocklin")]),
        ("It scales NumPy arrays and pandas DataFrames from a laptop to a cluster.", [("What does Dask scale from a laptop to a cluster?", "NumPy arrays and pandas DataFrames")]),
        ("It splits work into a graph of small tasks that a scheduler runs in parallel.", [("What runs Dask's tasks in parallel?", "a scheduler")]),
        ("It can process data larger than memory because it works on one chunk at a time.", [("Why can Dask process data larger than memory?", "because it works on one chunk at a time")]),
    ]),
    ("Flax", [
        ("Flax is a neural network library for JAX developed at Google.", [("Which library is Flax built for?", "JAX")]),
        ("Many research models, including large language models, have been written with it.", [("What kinds of models have been written with Flax?", "large language models")]),
        ("Its modules keep parameters separate from the code that uses them.", [("What do Flax modules keep separate?", "parameters")]),
        ("It keeps parameters separate because JAX transformations work on pure functions.", [("Why does Flax keep parameters separate?", "because JAX transformations work on pure functions")]),
    ]),
    ("ONNX", [
        ("ONNX, the Open Neural Network Exchange, was announced by Microsoft and Facebook in 2017.", [("Which companies announced ONNX?", "Microsoft and Facebook"), ("What does ONNX stand for?", "the Open Neural Network Exchange")]),
        ("It defines a common file format for machine learning models.", [("What does ONNX define?", "a common file format for machine learning models")]),
        ("ONNX Runtime executes these models on many kinds of hardware.", [("What executes ONNX models?", "ONNX Runtime")]),
        ("Engineers export models to it because a model trained in one framework can then be served by another.", [("Why do engineers export models to ONNX?", "because a model trained in one framework can then be served by another")]),
    ]),
    ("SciPy", [
        ("SciPy is a Python library for scientific computing first released in 2001.", [("When was SciPy first released?", "2001")]),
        ("Travis Oliphant, Eric Jones and Pearu Peterson started it.", [("Who started SciPy?", "Travis Oliphant, Eric Jones and Pearu Peterson")]),
        ("It provides routines for optimisation, integration, interpolation and signal processing.", [("What routines does SciPy provide?", "optimisation, integration, interpolation and signal processing")]),
        ("Much of it wraps well-tested Fortran libraries because rewriting them would risk new bugs.", [("Why does SciPy wrap Fortran libraries?", "because rewriting them would risk new bugs")]),
    ]),
]

# Background sentences that lengthen some passages (so they need several windows).
BACKGROUND = {
    "element": [
        "Its atoms combine with those of other elements in fixed proportions, which chemists write down as formulas.",
        "Safety sheets describe how {name} and its common compounds should be stored, handled and disposed of.",
        "Geologists can trace where {name} is found by studying the minerals and rocks that contain it.",
        "The price of {name} on world markets rises and falls with demand from the industries that rely on it.",
        "Students often meet {name} through simple experiments that show how it behaves when it is heated or mixed with water.",
        "Chemists place {name} in the periodic table according to the number of protons in each of its atoms, which is the same for every atom of the element.",
        "Like every element, {name} has several isotopes, atoms with the same number of protons but different numbers of neutrons, and some of them are more stable than others.",
        "Textbooks usually introduce {name} alongside its neighbours in the table, since elements in the same column tend to behave in similar ways in reactions.",
        "Museums of science often display samples of {name} or its compounds, together with notes on how the element was first recognised and purified.",
        "Modern laboratories measure the purity of {name} with instruments that read the light each kind of atom gives off when it is heated.",
    ],
    "planet": [
        "Amateur astronomers can follow {name} across the night sky over weeks and months, noting how its position changes against the stars.",
        "Scientists compare {name} with the other planets to learn how the solar system formed and why the planets differ so much.",
        "Several space agencies have proposed future missions to {name}, each with its own questions to answer.",
        "Models of its interior are based on measurements of its gravity, its shape and the way it spins.",
        "Its brightness in the sky depends on its distance from the Earth and on how much of its sunlit side faces us.",
        "Space agencies have studied {name} with telescopes on the ground, with observatories in orbit and, in most cases, with probes that flew past it.",
        "Like the other planets, {name} formed about 4.6 billion years ago from the disc of gas and dust that surrounded the young Sun.",
        "Its orbit, like those of its neighbours, is an ellipse, so its distance from the Sun changes a little over the course of its year.",
        "Photographs taken by passing spacecraft have shown details of {name} that no telescope on Earth could resolve.",
    ],
    "country": [
        "Its climate varies with altitude and distance from the sea, which shapes how and where people farm.",
        "Music, dance and festivals play a large part in public life, and many celebrations follow the seasons of the farming year.",
        "Like its neighbours, {name} trades heavily with the rest of the world, exporting goods that range from raw materials to manufactured products.",
        "Many of its people have moved abroad over the years, and communities of emigrants keep close ties with their families at home.",
        "National parks and protected areas cover part of its territory, giving shelter to plants and animals that are rare elsewhere.",
        "Like many countries, {name} has seen its cities grow quickly over the last century, and a large share of its people now live in or near urban areas.",
        "Its schools teach the national history from the earliest settlements to the present day, and its museums keep collections that visitors can see throughout the year.",
        "The government of {name} publishes statistics on trade, farming and industry every year, and these figures are used by researchers and businesses alike.",
        "Travellers who arrive in {name} for the first time are often struck by how much the landscape changes from one region to the next.",
        "Food in {name} reflects its history and climate, with regional dishes that families pass down from one generation to the next.",
        "Railways, roads and airports connect the main cities of {name}, although some remote areas can still be reached only with difficulty.",
    ],
    "person": [
        "As a young student, {name} read widely and was encouraged by teachers who noticed an unusual talent.",
        "Much of the work was done with simple equipment, long before the large laboratories and research budgets of today.",
        "Letters to friends and family describe both the excitement of discovery and the frustration of failed experiments.",
        "Not every idea was accepted at first, and some took years to convince other scientists.",
        "Exhibitions and documentaries continue to present the life and work of {name} to a wide audience.",
        "Historians have written several biographies of {name}, drawing on letters, notebooks and the memories of colleagues.",
        "Schools, prizes and streets in many countries are named after {name}, and the work is still taught in universities today.",
        "Colleagues remembered {name} as someone who worked long hours and who was careful to check every result more than once.",
        "Later researchers built on this work, and some of the questions it raised were answered only decades afterwards.",
    ],
    "software": [
        "Installing it usually takes a single command with a package manager such as pip or conda.",
        "Companies and universities fund part of its development, while many volunteers contribute in their spare time.",
        "Its design was influenced by older tools, and in turn it has influenced the projects that came after it.",
        "Beginners are encouraged to start with the official tutorials before moving on to their own projects.",
        "Each release is tested on several operating systems, including Linux, macOS and Windows.",
        "The project is developed in the open on a public code hosting site, where anyone can report a bug or propose a change.",
        "Its documentation includes tutorials for beginners as well as a detailed reference for every function and class.",
        "New versions are released several times a year, and each release lists the changes that users should know about before they upgrade.",
        "Conferences and online forums bring its users together to share examples, answer questions and discuss future plans.",
        "Its source code is reviewed by maintainers before it is merged, and automated tests run on every proposed change.",
    ],
    "place": [
        "The surrounding region has been settled for thousands of years, and archaeologists continue to find traces of early communities there.",
        "Scientists monitor the area closely, recording changes in water, ice, plants and wildlife from year to year.",
        "Writers and painters have long been drawn to the landscape, and it appears in many poems, stories and pictures.",
        "Tourism brings income to nearby towns, though local groups worry about the damage that large numbers of visitors can cause.",
        "Maps drawn centuries ago already show it, although early mapmakers often got its shape and size badly wrong.",
        "Changes in rainfall and temperature in recent decades have affected the area, and researchers are studying what this means for the future.",
        "Guides who grew up in the region know its paths, seasons and dangers better than any printed handbook.",
        "Its name appears in the histories of several peoples, each of whom gave it a meaning of their own.",
    ],
    "event": [
        "Newspapers of the time reported the news widely, and accounts by people who were there still survive.",
        "Historians continue to debate the details, since the surviving sources do not always agree with each other.",
        "Anniversaries are marked with exhibitions, lectures and, in some places, public ceremonies.",
        "Museums keep objects connected with it, from documents and drawings to tools and photographs.",
        "Its consequences reached far beyond the people directly involved and changed how later generations lived and worked.",
        "Schoolchildren in many countries learn about it as one of the turning points in their history lessons.",
        "Some of the people involved wrote memoirs later in life, giving their own view of what had happened.",
    ],
    "language": [
        "Its syntax has influenced later languages, and programmers who learn it often find others easier to pick up.",
        "Books, courses and online tutorials teach it to beginners, and it is often used in university classes.",
        "Large programs written in it are still maintained today, some of them decades old.",
        "A community of users meets at conferences and in online forums to share code and answer questions.",
        "Compilers or interpreters for it exist for most operating systems, including Linux, macOS and Windows.",
        "New versions of the language add features carefully, so that old programs keep working.",
        "Its standard library provides ready-made tools for common tasks such as reading files and handling text.",
    ],
}


# ==============================================================================================
# Composing passages
# ==============================================================================================
def element_paragraph(e, rng: random.Random) -> list[Fact]:
    name, symbol, number, who, year, origin, use, prop, why_q, because = e
    low = name.lower()
    facts = [Fact(pick(rng, f"{name} is the chemical element with the symbol {symbol} and atomic number {number}.",
                       f"With atomic number {number}, {low} is written with the symbol {symbol} in the periodic table."),
                  [(pick(rng, f"What is the atomic number of {low}?", f"Which atomic number does {low} have?"), str(number)),
                   (pick(rng, f"What is the chemical symbol of {low}?", f"Which symbol stands for {low}?"), symbol)])]
    if who:
        facts.append(Fact(pick(rng, f"It was discovered by {who} in {year}.", f"{who} first identified it in {year}.",
                               f"The element was first isolated in {year} by {who}."),
                          [(pick(rng, f"Who discovered {low}?", f"Who first identified {low}?"), who),
                           (pick(rng, f"When was {low} discovered?", f"In what year was {low} first identified?"), year)]))
    else:
        ancient = pick(rng, "People have known it since ancient times, long before anyone understood what an element was.",
                       "It has been used since prehistoric times, so no one knows who first discovered it.")
        if "prehistoric" in ancient:
            facts.append(Fact(ancient, [(f"Who first discovered {low}?", "no one knows")]))
        else:
            facts.append(Fact(ancient, [(f"How long have people known about {low}?", "since ancient times")]))
    facts.append(Fact(pick(rng, f"Its name comes from {origin}.", f"The name {low} is taken from {origin}."),
                      [(pick(rng, f"Where does the name {low} come from?", f"What is the origin of the name {low}?"), origin)]))
    facts.append(Fact(f"{prop}.", []))
    facts.append(Fact(pick(rng, f"Today it is used {use}.", f"Its main uses today are {use}.", f"Industry uses it {use}."),
                      [(pick(rng, f"What is {low} used for today?", f"How is {low} used today?"), use)]))
    facts.append(Fact(f"The reason {_why_statement(why_q)} is that {because}.", [(f"Why {why_q}?", because)]))
    return facts


# Statements the simple word-order rule below would get wrong.
STATEMENTS = {
    "is Ada Lovelace called the first programmer": "Ada Lovelace is called the first programmer",
    "did alternating current win over direct current": "alternating current won over direct current",
    "is Faraday's discovery of induction important": "Faraday's discovery of induction is important",
    "did John Glenn ask for Katherine Johnson's check": "John Glenn asked for Katherine Johnson's check",
    "did Marie Curie move to Paris": "Marie Curie moved to Paris",
    "did Rosalind Franklin not share the 1962 Nobel Prize": "Rosalind Franklin did not share the 1962 Nobel Prize",
    "does much of India depend on the monsoon": "much of India depends on the monsoon",
    "does the sun barely set in northern Norway in summer": "the sun barely sets in northern Norway in summer",
    "did Lise Meitner flee Germany in 1938": "Lise Meitner fled Germany in 1938",
    "does every web browser run JavaScript": "every web browser runs JavaScript",
    "did the bacteria on Fleming's dish die": "the bacteria on Fleming's dish died",
    "did the finches of the Galápagos interest Darwin": "the finches of the Galápagos interested Darwin",
    "are Jupiter's largest moons called the Galilean moons": "Jupiter's largest moons are called the Galilean moons",
    "is Mexico City slowly sinking": "Mexico City is slowly sinking",
    "does New Zealand have no native land mammals apart from bats": "New Zealand has no native land mammals apart from bats",
    "did Portuguese sailors explore so much of the world in the fifteenth century":
        "Portuguese sailors explored so much of the world in the fifteenth century",
    "does the Mekong Delta grow so much rice": "the Mekong Delta grows so much rice",
    "are the old towns of Morocco full of narrow lanes": "the old towns of Morocco are full of narrow lanes",
    "did watch makers stop using radium paint": "watch makers stopped using radium paint",
    "was the old town of Warsaw rebuilt": "the old town of Warsaw was rebuilt",
    "can Java programs run on many kinds of computer": "Java programs can run on many kinds of computer",
    "can Lisp programs easily write other programs": "Lisp programs can easily write other programs",
    "are so many observatories built in the Atacama Desert": "so many observatories are built in the Atacama Desert",
    "do temperatures on Mercury swing so widely": "temperatures on Mercury swing so widely",
    "is Venus hotter than Mercury": "Venus is hotter than Mercury",
    "could Saturn float in water": "Saturn could float in water",
    "do the seasons on Uranus last so long": "the seasons on Uranus last so long",
    "did astronomers suspect that Neptune existed before anyone saw it": "astronomers suspected that Neptune existed before anyone saw it",
}


def _why_statement(why_q: str) -> str:
    """Turn 'is hydrogen called the water former' into 'hydrogen is called the water former'."""
    if why_q in STATEMENTS:
        return STATEMENTS[why_q]
    aux, rest = why_q.split(" ", 1)
    if aux in ("is", "was", "are", "were", "can", "could"):
        subj, _, pred = rest.partition(" ")
        # subjects of two words ("pure sodium", "the Curies")
        if subj in ("pure", "the", "so") or subj.endswith("'s"):
            w2, _, pred = pred.partition(" ")
            subj = f"{subj} {w2}"
        return f"{subj} {aux} {pred}"
    if aux in ("do", "does", "did"):
        subj, _, pred = rest.partition(" ")
        if subj in ("the", "pure", "so") or subj.endswith("'s"):
            w2, _, pred = pred.partition(" ")
            subj = f"{subj} {w2}"
        verb, _, tail = pred.partition(" ")
        if aux == "did":
            verb = _past(verb)
        elif aux == "does":
            verb = _third(verb)
        return f"{subj} {verb} {tail}".strip()
    return rest


def _past(verb: str) -> str:
    irregular = {"leave": "left", "win": "won", "build": "built", "choose": "chose", "go": "went", "become": "became",
                 "stop": "stopped", "name": "named", "move": "moved", "flee": "fled", "return": "returned",
                 "want": "wanted", "interest": "interested", "ask": "asked", "die": "died", "explore": "explored",
                 "share": "shared", "find": "found", "put": "put", "create": "created", "suspect": "suspected", "not": "did not"}
    return irregular.get(verb, verb + "ed")


def _third(verb: str) -> str:
    irregular = {"have": "has", "do": "does", "go": "goes", "carry": "carries", "swing": "swing", "barely": "barely"}
    if verb in irregular:
        return irregular[verb]
    if verb.endswith(("s", "sh", "ch", "x")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def planet_paragraph(p, rng: random.Random) -> list[Fact]:
    name, order, feat, feat_qa, moons, moons_qa, naming, naming_qa, why_q, because = p
    facts = [Fact(pick(rng, f"{name} is the {order} planet from the Sun.", f"Counting outwards from the Sun, {name} is the {order} planet."),
                  [(pick(rng, f"Which planet is {order} from the Sun?", f"What is the {order} planet from the Sun?"), name),
                   (f"Where is {name} in the order of the planets from the Sun?", order)])]
    facts.append(Fact(f"{feat}.", [feat_qa]))
    facts.append(Fact(f"{moons}.", [moons_qa]))
    facts.append(Fact(f"{naming}.", [naming_qa]))
    facts.append(Fact(pick(rng, f"Astronomers ask why {_why_statement(why_q)}; the answer is that {because}.",
                           f"The reason {_why_statement(why_q)} is that {because}."), [(f"Why {why_q}?", because)]))
    return facts


def country_paragraph(c, rng: random.Random) -> list[Fact]:
    (name, capital, region, lang, currency, (landmark, what), river, hist, hist_qa, why_q, because) = c
    facts = [Fact(pick(rng, f"{name} is a country in {region}, and its capital is {capital}.",
                       f"The capital of {name}, a country in {region}, is {capital}."),
                  [(pick(rng, f"What is the capital of {name}?", f"Which city is the capital of {name}?"), capital),
                   (pick(rng, f"Where is {name}?", f"In which region is {name}?"), region)])]
    many = " and " in lang or "," in lang
    facts.append(Fact(pick(rng, f"The official language{'s are' if many else ' is'} {lang}, and the currency is {currency}.",
                           f"People there speak {lang} and pay with {currency}."),
                      [(pick(rng, f"What language is spoken in {name}?", f"Which language{'s are' if many else ' is'} official in {name}?"), lang),
                       (pick(rng, f"What is the currency of {name}?", f"Which currency is used in {name}?"), currency)]))
    facts.append(Fact(pick(rng, f"Among its best-known sights is {landmark}, {what}.", f"Visitors travel to see {landmark}, {what}."),
                      [(f"What is {landmark}?", what)]))
    if many and lang.count(",") + lang.count(" and ") >= 1:
        n = lang.count(",") + lang.count(" and ") + 1
        words = {2: "two", 3: "three", 4: "four"}[n]
        facts.append(Fact(f"In all, {name} recognises {words} official languages.",
                          [(f"How many official languages does {name} recognise?", words)]))
    facts.append(Fact(pick(rng, f"One of its important rivers is {river}.", f"{river[0].upper() + river[1:]} is one of its most important rivers."),
                      [(f"What is one of the important rivers of {name}?", river)]))
    facts.append(Fact(f"{hist}.", [hist_qa]))
    facts.append(Fact(pick(rng, f"Geographers explain why {_why_statement(why_q)}: {because}.",
                           f"The reason {_why_statement(why_q)} is that {because}."), [(f"Why {why_q}?", because)]))
    return facts


def person_paragraph(s, rng: random.Random) -> list[Fact]:
    name, born, place, field_, a1, a2, a3, why_q, because = s
    pron = "She" if a1[0].startswith("She") or "She " in a1[0] or " her " in a1[0] or a1[0].startswith("Her") else "He"
    if name in ("Marie Curie", "Ada Lovelace", "Rosalind Franklin", "Grace Hopper", "Katherine Johnson", "Lise Meitner"):
        pron = "She"
    surname = name.split()[-1]
    facts = [Fact(pick(rng, f"{name} was born in {place} in {born} and worked in {field_}.",
                       f"Born in {born} in {place}, {name} made a name in {field_}."),
                  [(pick(rng, f"Where was {name} born?", f"In which town was {name} born?"), place),
                   (pick(rng, f"When was {name} born?", f"In what year was {surname} born?"), born),
                   (f"In which field did {name} work?", field_)])]
    for text, q, a in (a1, a2):
        facts.append(Fact(text, [(q, a)]))
    facts.append(Fact(f"{a3[0]}.", [(a3[1], a3[2])]))
    statement = _why_statement(why_q)
    facts.append(Fact(pick(rng, f"Biographers note that {statement} because {because}.",
                           f"{statement[0].upper() + statement[1:]} because {because}."),
                      [(f"Why {why_q}?", f"because {because}")]))
    return facts


def language_paragraph(l, rng: random.Random) -> list[Fact]:
    name, creator, year, where, t1, qa1, t2, qa2, why_q, because = l
    facts = [Fact(pick(rng, f"{name} is a programming language created by {creator} {where}, first released in {year}.",
                       f"{creator} designed the {name} programming language {where}, and it appeared in {year}."),
                  [(pick(rng, f"Who created {name}?", f"Who designed the {name} programming language?"), creator),
                   (pick(rng, f"When was {name} first released?", f"In which year did {name} appear?"), year),
                   (f"Where was {name} created?", where)])]
    facts.append(Fact(f"{t1}.", [qa1]))
    facts.append(Fact(f"{t2}.", [qa2]))
    facts.append(Fact(f"Programmers explain why {_why_statement(why_q)}: {because}.", [(f"Why {why_q}?", because)]))
    return facts


def sentence_paragraph(items, rng: random.Random) -> list[Fact]:
    return [Fact(text, list(qas)) for text, qas in items]


CATEGORIES = [
    ("element", ELEMENTS, lambda e: e[0], element_paragraph),
    ("planet", PLANETS, lambda p: p[0], planet_paragraph),
    ("country", COUNTRIES, lambda c: c[0], country_paragraph),
    ("geography", GEOGRAPHY, lambda g: g[0], lambda g, rng: sentence_paragraph(g[1], rng)),
    ("person", SCIENTISTS, lambda s: s[0], person_paragraph),
    ("event", EVENTS, lambda e: e[0], lambda e, rng: sentence_paragraph(e[1], rng)),
    ("language", LANGUAGES, lambda l: l[0] + " (programming language)", language_paragraph),
    ("software", LIBRARIES, lambda l: l[0], lambda l, rng: sentence_paragraph(l[1], rng)),
]
BACKGROUND_KIND = {"element": "element", "planet": "planet", "country": "country", "geography": "place",
                   "person": "person", "event": "event", "language": "language", "software": "software"}


# ==============================================================================================
# Records
# ==============================================================================================
def compose(title: str, facts: list[Fact], background: list[str], rng: random.Random) -> tuple[str, list[tuple[str, str, int]]]:
    """Join sentences into one passage; return it with (question, answer, answer_start) triples."""
    sentences = [f.text for f in facts]
    qas_per_sentence = [f.qas for f in facts]
    pos = rng.randint(1, len(sentences))  # one block of background, after the opening sentence
    for k, extra in enumerate(background):
        sentences.insert(pos + k, extra)
        qas_per_sentence.insert(pos + k, [])
    context, triples = "", []
    for sentence, qas in zip(sentences, qas_per_sentence):
        offset = len(context) + (1 if context else 0)
        context = f"{context} {sentence}" if context else sentence
        for question, answer in qas:
            at = sentence.find(answer)
            if at < 0:  # "the Loire" opening a sentence reads "The Loire": take the passage's spelling
                at = sentence.lower().find(answer.lower())
                if at < 0:
                    raise AssertionError(f"{title}: answer {answer!r} not in sentence {sentence!r}")
                answer = sentence[at:at + len(answer)]
            triples.append((question, answer, offset + at))
    return context, triples


def validation_answers(context: str, answer: str, start: int) -> tuple[list[str], list[int]]:
    """Three references, as three annotators might mark the same answer."""
    texts, starts = [answer], [start]
    words = answer.split()
    # A shorter span: drop a leading article/preposition/"because", or keep the head of a list.
    lead = ("the ", "The ", "a ", "an ", "in ", "at ", "on ", "because ", "about ", "to ", "for ", "In ", "A ")
    variant = None
    for prefix in lead:
        if answer.startswith(prefix) and len(answer) > len(prefix) + 2:
            variant = (answer[len(prefix):], start + len(prefix))
            break
    if variant is None and len(words) >= 4:
        head = " ".join(words[:len(words) // 2 + 1]).rstrip(",")
        variant = (head, start)
    # A longer span: include the word before (an article or preposition annotators often keep).
    before = context[:start].rstrip()
    longer = None
    if before and context[start - 1:start] == " ":
        prev = before.split()[-1]
        if prev.lower() in ("the", "in", "at", "on", "about", "by", "of", "from", "a", "an"):
            longer = (f"{prev} {answer}", start - len(prev) - 1)
    for extra in (variant, longer):
        if extra and extra[0] not in texts:
            texts.append(extra[0])
            starts.append(extra[1])
    while len(texts) < 3:  # annotators who agree with the first one
        texts.append(answer)
        starts.append(start)
    return texts[:3], starts[:3]


def build() -> dict[str, list[dict]]:
    rng = random.Random(SEED)
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    counter = 0
    for kind, items, title_of, paragraph in CATEGORIES:
        for index, item in enumerate(items):
            title = title_of(item)
            split = "validation" if index % VALIDATION_EVERY == 2 and title != "Hugging Face Transformers" else "train"
            facts = paragraph(item, rng)
            subject = title.split(" (")[0]
            if kind == "element":
                subject = subject.lower()  # "samples of iron", not "of Iron"
            pool = [b.format(name=subject) for b in BACKGROUND[BACKGROUND_KIND[kind]]]
            # About one passage in three is long enough to need several windows at max_length 256/384.
            n_extra = len(pool) if rng.random() < 0.35 else rng.randint(0, 1)
            background = rng.sample(pool, min(n_extra, len(pool)))
            context, triples = compose(title, facts, background, rng)
            slug = title.lower().replace(" ", "_").replace("(", "").replace(")", "")
            for q_no, (question, answer, start) in enumerate(triples):
                assert context[start:start + len(answer)] == answer
                counter += 1
                rid = hashlib.md5(f"{slug}/{q_no}/{question}".encode()).hexdigest()[:24]
                if split == "train":
                    answers = {"text": [answer], "answer_start": [start]}
                else:
                    texts, starts = validation_answers(context, answer, start)
                    for t, s in zip(texts, starts):
                        assert context[s:s + len(t)] == t, (title, t)
                    answers = {"text": texts, "answer_start": starts}
                splits[split].append({"id": rid, "title": title.replace(" ", "_"), "context": context,
                                      "question": question, "answers": answers})
    return splits


def serialise(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files instead of writing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    splits = build()
    for split, records in splits.items():
        path = args.out / f"{split}.jsonl"
        text = serialise(records)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is out of date: run python tools/make_bundled_qa.py", file=sys.stderr)
                return 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        contexts = {r["context"] for r in records}
        print(f"{split}: {len(contexts)} paragraphs, {len(records)} questions -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
